from django.urls import path

from . import views

global_urls = [
    path("stripe/webhook/", views.stripe_webhook, name="stripe_webhook"),
]
