from django.apps import AppConfig


class StripeEventsConfig(AppConfig):
    name = "stripe_events"
    verbose_name = "Stripe events"
