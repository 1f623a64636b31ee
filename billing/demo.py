"""Demo billing steps, made through the real services against localstripe.

seed_demo's stories (billing.demo_timeline) call these at the moment they happen in the story.
Webhooks cannot reach the dashboard while seeding (the server is not up yet): seed_demo receives
the events localstripe produced from its Events API afterwards, through the same path as webhooks
(stripe_events.replay).
"""

import socket
from datetime import timedelta
from urllib.parse import urlparse

from django.conf import settings
from django.utils import timezone

from audit.services import Actor
from organizations.models import Organization

from . import refunds, services, stripe_gateway
from .models import (
    Payment,
    PaymentMethod,
    PaymentPurpose,
    PaymentStatus,
    PromotionCode,
    StripeCustomer,
)

DEMO_PROMO = "WELCOME50"


def localstripe_reachable() -> bool:
    url = urlparse(settings.STRIPE_API_BASE)
    try:
        with socket.create_connection((url.hostname, url.port or 443), timeout=1):
            return True
    except OSError:
        return False


def _forget_stale_customer(organization: Organization) -> None:
    """localstripe's state was reset but our database was not: start a new customer."""
    customer = StripeCustomer.objects.filter(organization=organization).first()
    if customer is None:
        return
    try:
        stripe_gateway.customer_retrieve(customer.stripe_id)
    except stripe_gateway.GatewayError:
        PaymentMethod.objects.filter(organization=organization).update(
            detached_at=timezone.now(), is_default=False
        )
        customer.delete()


def card_ensure(organization: Organization, actor: Actor) -> None:
    """The organization's default card (localstripe's test Visa), added as a person would."""
    _forget_stale_customer(organization)
    if services.default_card(organization):
        return
    intent = services.card_setup_start(actor=actor, organization=organization)
    stripe_gateway.setup_intent_confirm(intent.id, "pm_card_visa")
    services.card_add_from_setup_intent(
        actor=actor, organization=organization, setup_intent_id=intent.id
    )


def welcome_credit_redeem(organization: Organization, actor: Actor) -> None:
    """The welcome promotion a new team is given at sign-up, redeemed by its owner."""
    PromotionCode.objects.get_or_create(
        code=DEMO_PROMO,
        defaults={
            "amount_microdollars": 50_000_000,
            "description": "Welcome credit for new teams",
            "expires_at": timezone.now() + timedelta(days=365 * 2),
        },
    )
    services.promotion_redeem(actor=actor, organization=organization, code=DEMO_PROMO)


def first_purchase_refund(organization: Organization, amount_cents: int) -> None:
    """Support refunds part of the first purchase (staff do this from the admin's Payments)."""
    first = (
        Payment.objects.filter(
            organization=organization,
            purpose=PaymentPurpose.CREDIT_PURCHASE,
            status=PaymentStatus.SUCCEEDED,
        )
        .order_by("created_at")
        .first()
    )
    if first is None:
        return
    refunds.payment_refund(
        actor=Actor.system(),
        payment=first,
        amount_cents=amount_cents,
        request_key=f"demo-refund-{first.public_id}",
    )
