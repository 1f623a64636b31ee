"""Demo billing data for Acme, made through the real services against localstripe.

Called by `manage.py seed_demo`; idempotent (it only adds what is missing). Webhooks cannot reach
the dashboard while seeding (the server is not up yet), so the events localstripe produced are
received from its Events API, through the same path as webhooks (billing.reconcile).
"""

import socket
from datetime import timedelta
from urllib.parse import urlparse

from django.conf import settings
from django.utils import timezone

from audit.services import Actor
from organizations.models import Membership, Organization, Role

from . import documents, reconcile, services, stripe_gateway, sync
from .models import (
    Document,
    DocumentKind,
    Payment,
    PaymentMethod,
    PaymentPurpose,
    PaymentStatus,
    PromotionCode,
    Redemption,
    StripeCustomer,
)

# Enough to cover the demo's 90 days of usage (about $3,200), so the balance stays positive.
DEMO_PURCHASES_CENTS = (1_000_00, 2_500_00, 1_000_00)
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


def _ensure_card(organization: Organization, actor: Actor) -> None:
    if services.default_card(organization):
        return
    intent = services.card_setup_start(actor=actor, organization=organization)
    stripe_gateway.setup_intent_confirm(intent.id, "pm_card_visa")
    services.card_add_from_setup_intent(
        actor=actor, organization=organization, setup_intent_id=intent.id
    )


def receive_missed_events() -> int:
    """Store (and queue the handling of) the events localstripe sent while no server listened.

    The last step of seeding: the subscription is started after the billing data, and its events
    (customer.subscription.created, invoice.paid, ...) would otherwise be lost.
    """
    if not localstripe_reachable():
        return 0
    return reconcile.events_replay(since_seconds=3600)


def seed_billing(slug: str = "acme", stdout=None) -> list[str]:  # noqa: ANN001
    """Returns (and writes to `stdout`, if given) what it did, one line each."""
    done = _seed(slug)
    for line in done:
        if stdout is not None:
            stdout.write(f"  billing: {line}")
    return done


def _seed(slug: str) -> list[str]:
    if not localstripe_reachable():
        return ["Stripe (localstripe) is not running: billing demo data skipped."]
    done: list[str] = []
    organization = Organization.objects.get(slug=slug)
    owner = Membership.objects.get(organization=organization, role=Role.OWNER).user
    actor = Actor(user=owner)
    _forget_stale_customer(organization)
    _ensure_card(organization, actor)

    bought = Payment.objects.filter(
        organization=organization, purpose=PaymentPurpose.CREDIT_PURCHASE
    ).exclude(status=PaymentStatus.FAILED)
    for cents in DEMO_PURCHASES_CENTS[bought.count() :]:
        outcome = services.credits_purchase(
            actor=actor, organization=organization, amount_cents=cents
        )
        # What the payment_intent.succeeded handler does (seed_demo runs in one transaction,
        # so queued handling would only happen at its very end).
        sync.payment_intent_sync(outcome.payment.stripe_payment_intent_id)
        done.append(f"bought ${cents // 100:,} of credits")
    reconcile.events_replay(since_seconds=3600)  # store the webhooks the server could not get

    promotion, _ = PromotionCode.objects.get_or_create(
        code=DEMO_PROMO,
        defaults={
            "amount_microdollars": 50_000_000,
            "description": "Welcome credit for new teams",
            "expires_at": timezone.now() + timedelta(days=365),
        },
    )
    if not Redemption.objects.filter(promotion=promotion, organization=organization).exists():
        services.promotion_redeem(actor=actor, organization=organization, code=DEMO_PROMO)
        done.append("redeemed WELCOME50")

    first = bought.filter(status=PaymentStatus.SUCCEEDED).order_by("created_at").first()
    if first and not first.refunds.exists():
        sync.payment_refund(actor=Actor.system(), payment=first, amount_cents=25_00)
        done.append("refunded $25 of the first purchase")

    this_month = timezone.localtime(timezone.now(), documents._tz_of(organization)).date()
    previous = documents.previous_month(this_month)
    for period in (documents.previous_month(previous), previous):
        exists = Document.objects.filter(
            organization=organization, kind=DocumentKind.STATEMENT, period_start=period
        ).exists()
        if not exists and documents.statement_request(organization, period):
            done.append(f"statement for {period:%B %Y}")
    return done
