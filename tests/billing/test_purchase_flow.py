"""Add a card, buy credits, the webhook arrives, the balance rises once: against localstripe."""

import time

import pytest
import requests
from django.conf import settings
from django.urls import reverse

from audit.models import AuditEvent
from billing import refunds, services
from billing.ledger import balance_of
from billing.models import CreditLedgerEntry, Document, Payment, PaymentStatus
from stripe_events.models import StripeEvent
from tests.billing.conftest import (
    DECLINED_ON_CHARGE,
    NEEDS_3DS,
    add_card,
    buy_and_confirm,
    buy_confirmation,
    deliver,
    fake_event,
    stripe_events,
)
from tests.billing.localstripe import deliver_webhooks_to  # noqa: F401 - fixture
from tests.conftest import actor, client_for

pytestmark = pytest.mark.django_db(transaction=True)

DOLLAR = 1_000_000


def buy(org, owner, cents: int = 100_00) -> Payment:  # noqa: ANN001
    outcome = services.credits_purchase(actor=actor(owner), organization=org, amount_cents=cents)
    return outcome.payment


def succeeded_event(payment: Payment) -> dict:
    payment.refresh_from_db()
    events = stripe_events(payment.stripe_payment_intent_id, "payment_intent.succeeded")
    assert len(events) == 1
    return events[0]


def test_add_card_buy_credits_webhook_arrives_and_balance_rises_once(org, owner):
    card = add_card(org, owner)
    assert card.is_default and card.last4 == "4242" and card.brand == "visa"

    payment = buy(org, owner)
    assert payment.status == PaymentStatus.PROCESSING
    assert balance_of(org) == 0  # nothing on the browser's return: only Stripe's word counts

    event = succeeded_event(payment)
    response = deliver(event)
    assert response.status_code == 200
    assert balance_of(org) == 100 * DOLLAR
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    stored = StripeEvent.objects.get(stripe_id=event["id"])
    assert stored.status == "processed" and stored.attempts == 1

    again = deliver(event)  # Stripe delivers the same event twice
    assert again.status_code == 200 and again.content == b"duplicate"
    assert balance_of(org) == 100 * DOLLAR
    assert CreditLedgerEntry.objects.filter(organization=org).count() == 1
    receipt = Document.objects.get(payment=payment)
    assert receipt.is_issued and receipt.sequence == 1


def test_the_same_object_in_a_second_event_id_does_not_credit_twice(org, owner):
    add_card(org, owner)
    payment = buy(org, owner)
    event = succeeded_event(payment)
    deliver(event)
    replay = {**event, "id": event["id"] + "_replayed"}
    assert deliver(replay).status_code == 200
    assert balance_of(org) == 100 * DOLLAR


def test_payment_failed_delivered_after_succeeded_leaves_the_payment_succeeded(org, owner):
    add_card(org, owner)
    payment = buy(org, owner, 500_00)
    deliver(succeeded_event(payment))
    late = fake_event("payment_intent.payment_failed", payment.stripe_payment_intent_id)
    assert deliver(late).status_code == 200
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert balance_of(org) == 500 * DOLLAR
    # The late event is recognised as settled: the success is recorded once (without the
    # "already succeeded" guard it is recorded again, and a second receipt requested).
    assert AuditEvent.objects.filter(action="billing.payment_succeeded").count() == 1


def test_a_declined_card_shows_stripes_reason_and_grants_nothing(org, owner):
    add_card(org, owner, DECLINED_ON_CHARGE)
    response = buy_and_confirm(client_for(owner), org, {"preset": "10000"}, follow=True)
    assert "The payment failed: Your card was declined." in response.content.decode()
    payment = Payment.objects.get(organization=org)
    assert payment.status == PaymentStatus.FAILED
    assert payment.failure_message == "Your card was declined."
    for event in stripe_events(payment.stripe_payment_intent_id):
        deliver(event)
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.FAILED
    assert balance_of(org) == 0
    # The failure is audited once (the redelivered events change nothing more).
    [failure] = AuditEvent.objects.filter(action="billing.payment_status_changed")
    assert failure.after == {"status": "failed", "failure_message": "Your card was declined."}
    assert failure.target_id == str(payment.public_id)


def test_a_custom_amount_outside_10_to_10000_dollars_is_refused(org, owner):
    add_card(org, owner)
    client = client_for(owner)
    url = reverse("billing_buy_credits", args=[org.slug])
    refusals = {
        "9.99": "between $10 and $10,000",
        "10000.01": "between $10 and $10,000",
        "-5": "The amount cannot be negative.",
        "10.001": "Use at most 2 decimals",
    }
    for amount, message in refusals.items():
        response = client.post(url, {"preset": "custom", "custom_amount": amount}, follow=True)
        assert message in response.content.decode()
    assert not Payment.objects.exists()
    buy_and_confirm(client, org, {"preset": "10000", "custom_amount": "10"})
    assert Payment.objects.get(organization=org).amount_cents == 10_00


def test_requires_action_goes_to_the_authentication_page_then_credits_on_success(org, owner):
    intent = services.card_setup_start(actor=actor(owner), organization=org)
    from tests.billing.conftest import stripe_js_confirm_setup

    first = stripe_js_confirm_setup(intent.client_secret, NEEDS_3DS)
    assert first["status"] == "requires_action"
    requests.post(  # the fake Stripe.js: "Complete authentication"
        f"{settings.STRIPE_API_BASE}/v1/setup_intents/{intent.id}/confirm",
        json={"key": settings.STRIPE_PUBLISHABLE_KEY, "client_secret": intent.client_secret},
        timeout=10,
    )
    services.card_add_from_setup_intent(
        actor=actor(owner), organization=org, setup_intent_id=intent.id
    )

    client = client_for(owner)
    response = buy_and_confirm(client, org, {"preset": "10000"})
    payment = Payment.objects.get(organization=org)
    assert payment.status == PaymentStatus.REQUIRES_ACTION
    assert response["Location"] == reverse(
        "billing_payment_authenticate", args=[org.slug, payment.public_id]
    )
    page = client.get(response["Location"])
    assert page.status_code == 200 and b"js/stripe-confirm-payment.js" in page.content

    secret = page.context["client_secret"]
    requests.post(
        f"{settings.STRIPE_API_BASE}/v1/payment_intents/{payment.stripe_payment_intent_id}"
        "/_authenticate?success=true",
        json={"key": settings.STRIPE_PUBLISHABLE_KEY, "client_secret": secret},
        timeout=10,
    )
    deliver(succeeded_event(payment))
    assert balance_of(org) == 100 * DOLLAR


def test_a_partial_refund_becomes_one_negative_entry(org, owner):
    add_card(org, owner)
    payment = buy(org, owner, 100_00)
    deliver(succeeded_event(payment))
    payment.refresh_from_db()

    refunds.payment_refund(
        actor=actor(None), payment=payment, amount_cents=25_00, request_key="first"
    )
    assert balance_of(org) == 75 * DOLLAR
    refunded = fake_event("charge.refunded", payment.stripe_charge_id)  # Stripe's own event
    assert deliver(refunded).status_code == 200
    assert balance_of(org) == 75 * DOLLAR
    payment.refresh_from_db()
    assert payment.amount_refunded_cents == 25_00
    refunds.payment_refund(
        actor=actor(None), payment=payment, amount_cents=75_00, request_key="second"
    )
    assert balance_of(org) == 0
    assert list(
        CreditLedgerEntry.objects.filter(organization=org, kind="refund")
        .order_by("id")
        .values_list("amount_microdollars", flat=True)
    ) == [-25 * DOLLAR, -75 * DOLLAR]


def test_make_default_and_remove_cards(org, owner):
    first = add_card(org, owner)
    second = add_card(org, owner, "5555555555554444")
    assert not second.is_default
    client = client_for(owner)
    client.post(reverse("billing_card_default", args=[org.slug, second.public_id]))
    second.refresh_from_db()
    first.refresh_from_db()
    assert second.is_default and not first.is_default
    client.post(reverse("billing_card_remove", args=[org.slug, second.public_id]))
    first.refresh_from_db()
    second.refresh_from_db()
    assert second.detached_at is not None and first.is_default


@pytest.mark.usefixtures("deliver_webhooks_to")
def test_localstripe_delivers_the_webhook_to_a_live_server(org, owner):
    add_card(org, owner)
    buy(org, owner)
    deadline = time.monotonic() + 20  # localstripe waits a second before it delivers
    while balance_of(org) == 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert balance_of(org) == 100 * DOLLAR


def test_a_double_click_does_not_charge_twice(org, owner):
    add_card(org, owner)
    client = client_for(owner)
    url = reverse("billing_buy_credits", args=[org.slug])
    confirmation = buy_confirmation(client, org, {"preset": "50000"})
    client.post(url, confirmation)
    response = client.post(url, confirmation, follow=True)
    assert "already submitted" in response.content.decode()
    assert Payment.objects.filter(organization=org).count() == 1


def test_the_same_amount_confirmed_in_a_second_tab_moments_later_is_refused(org, owner):
    """Two confirmation pages (two keys) for $500 within seconds: the second is refused while
    the first has not settled (tests/billing/test_purchase_request_keys.py: the same key)."""
    add_card(org, owner)
    client = client_for(owner)
    url = reverse("billing_buy_credits", args=[org.slug])
    first_tab = buy_confirmation(client, org, {"preset": "50000"})
    second_tab = buy_confirmation(client, org, {"preset": "50000"})
    client.post(url, first_tab)
    response = client.post(url, second_tab, follow=True)
    assert "already in progress" in response.content.decode()
    assert Payment.objects.filter(organization=org).count() == 1
