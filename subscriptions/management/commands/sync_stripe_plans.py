from django.core.management.base import BaseCommand, CommandError

from billing import stripe_gateway as gateway
from billing import stripe_subscriptions
from subscriptions.plans import ALL_PRICES


class Command(BaseCommand):
    help = "Create the Teams and Enterprise seat plans (monthly and yearly) in Stripe; idempotent."

    def handle(self, *args: object, **options: object) -> None:
        for price in ALL_PRICES:
            try:
                plan, created = stripe_subscriptions.plan_ensure(
                    plan_id=price.stripe_id,
                    amount=price.unit_amount,
                    interval=price.interval,
                    product_name=price.product_name,
                    metadata={"kilo_plan": price.plan, "interval": price.interval},
                )
            except gateway.GatewayError as error:
                raise CommandError(f"{price.stripe_id}: {error.message}") from error
            if plan.amount != price.unit_amount or plan.interval != price.interval:
                raise CommandError(f"{plan.id} exists in Stripe with another price or interval.")
            if int(options.get("verbosity", 1)) >= 1:
                self.stdout.write(f"{plan.id}: {'created' if created else 'up to date'}")
