"""Mirrors of Stripe objects (invoices, cards, customer) follow the object, not the event."""

import json

import pytest
import requests
from django.conf import settings

from billing import services
from billing.models import PaymentMethod, StripeInvoice
from tests.billing.conftest import add_card, deliver, fake_event
from tests.conftest import actor

pytestmark = pytest.mark.django_db(transaction=True)


def stripe_post(path: str, data: dict) -> dict:
    response = requests.post(
        f"{settings.STRIPE_API_BASE}{path}",
        data=data,
        headers={"Authorization": f"Bearer {settings.STRIPE_SECRET_KEY}"},
        timeout=10,
    )
    return response.json()


def test_invoice_events_mirror_number_status_amount_period_and_link(org, owner, monkeypatch):
    """localstripe makes invoices only for subscriptions (the Subscriptions tab's business), so the
    invoice comes from Stripe's official current-API example, re-addressed to our customer."""
    from billing import stripe_gateway
    from tests.billing.test_stripe_shapes import FIXTURES

    customer = services.customer_ensure(org)
    example = json.loads(FIXTURES.read_text())["resources"]["invoice"]
    example = {
        **example,
        "customer": customer.stripe_id,
        "number": "KILO-0042",
        "status": "paid",
        "amount_paid": 1000,
        "period_start": 1767225600,
        "period_end": 1769904000,
        "hosted_invoice_url": "https://invoice.stripe.com/i/x",
    }
    monkeypatch.setattr(
        stripe_gateway, "invoice_retrieve", lambda _id: stripe_gateway.parse_invoice(example)
    )
    for event_type in ("invoice.created", "invoice.finalized", "invoice.paid"):
        assert deliver(fake_event(event_type, example["id"])).status_code == 200
    mirror = StripeInvoice.objects.get(stripe_id=example["id"])
    assert (mirror.organization, mirror.number, mirror.status) == (org, "KILO-0042", "paid")
    assert mirror.amount_due_cents == 1000 and mirror.period_start.year == 2026
    assert mirror.hosted_invoice_url == "https://invoice.stripe.com/i/x"
    assert StripeInvoice.objects.count() == 1


def test_a_card_detached_in_stripe_disappears_from_the_tab(org, owner):
    card = add_card(org, owner)
    stripe_post(f"/v1/payment_methods/{card.stripe_id}/detach", {})
    deliver(fake_event("payment_method.detached", card.stripe_id))
    card.refresh_from_db()
    assert card.detached_at is not None and not card.is_default


def test_customer_updated_follows_the_default_card_chosen_in_stripe(org, owner):
    first = add_card(org, owner)
    second = add_card(org, owner, "5555555555554444")
    customer = services.customer_ensure(org)
    stripe_post(
        f"/v1/customers/{customer.stripe_id}",
        {"invoice_settings[default_payment_method]": second.stripe_id},
    )
    deliver(fake_event("customer.updated", customer.stripe_id))
    assert PaymentMethod.objects.get(pk=second.pk).is_default
    assert not PaymentMethod.objects.get(pk=first.pk).is_default


def test_setup_intent_succeeded_mirrors_the_card_even_if_the_browser_never_came_back(org, owner):
    intent = services.card_setup_start(actor=actor(owner), organization=org)
    from tests.billing.conftest import stripe_js_confirm_setup

    confirmed = stripe_js_confirm_setup(intent.client_secret)
    stripe_post(
        f"/v1/payment_methods/{confirmed['payment_method']}/attach", {"customer": intent.customer}
    )
    deliver(fake_event("setup_intent.succeeded", intent.id))
    assert PaymentMethod.objects.get(organization=org).last4 == "4242"


def test_the_daily_reconcile_settles_a_payment_whose_webhook_never_came(org, owner):
    from datetime import timedelta

    from django.utils import timezone

    from billing.ledger import balance_of
    from billing.models import Payment
    from billing.tasks import reconcile_stripe
    from stripe_events.tasks import replay_missed_events

    add_card(org, owner)
    services.credits_purchase(actor=actor(owner), organization=org, amount_cents=100_00)
    Payment.objects.update(created_at=timezone.now() - timedelta(hours=1))
    result = reconcile_stripe()
    assert balance_of(org) == 100_000_000
    assert result["cards"] == 1
    assert reconcile_stripe()["payments_fixed"] == 0  # settled now: nothing left to fix
    assert balance_of(org) == 100_000_000
    # The events the webhook never brought arrive through the replay, once, crediting nothing more.
    assert replay_missed_events() >= 1
    assert replay_missed_events() == 0
    assert balance_of(org) == 100_000_000
