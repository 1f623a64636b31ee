"""POST /stripe/webhook/: signature over the raw body, event stored once, retries after failure."""

import json
import time

import pytest
import requests
from django.apps import apps
from django.conf import settings

from billing import sync
from billing.ledger import balance_of
from stripe_events import handlers
from stripe_events.models import StripeEvent
from tests.billing.conftest import add_card, deliver, fake_event, sign, stripe_events
from tests.billing.test_purchase_flow import buy
from tests.conftest import client_for

pytestmark = pytest.mark.django_db(transaction=True)


def post_raw(payload: bytes, signature: str | None):  # noqa: ANN201
    headers = {"HTTP_STRIPE_SIGNATURE": signature} if signature is not None else {}
    return client_for(None).post(
        "/stripe/webhook/", data=payload, content_type="application/json", **headers
    )


def test_a_bad_signature_is_400_and_stores_nothing():
    payload = json.dumps(fake_event("payment_intent.succeeded", "pi_x")).encode()
    response = post_raw(payload, sign(payload, secret="whsec_not_ours"))
    assert response.status_code == 400
    assert not StripeEvent.objects.exists()


def test_a_missing_signature_is_400():
    payload = json.dumps(fake_event("payment_intent.succeeded", "pi_x")).encode()
    assert post_raw(payload, None).status_code == 400
    assert not StripeEvent.objects.exists()


def test_a_signature_over_a_different_body_is_400():
    payload = json.dumps(fake_event("payment_intent.succeeded", "pi_x")).encode()
    tampered = payload.replace(b"pi_x", b"pi_y")
    assert post_raw(tampered, sign(payload)).status_code == 400


def test_a_stale_timestamp_is_400_even_with_a_valid_signature():
    payload = json.dumps(fake_event("payment_intent.succeeded", "pi_x")).encode()
    response = post_raw(payload, sign(payload, timestamp=int(time.time()) - 3600))
    assert response.status_code == 400
    assert not StripeEvent.objects.exists()


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"id": 5}', b'{"id": "evt_1"}'])
def test_a_malformed_body_is_400_even_when_signed(body):
    assert post_raw(body, sign(body)).status_code == 400
    assert not StripeEvent.objects.exists()


def test_an_unknown_type_is_200_stored_as_ignored_and_not_handled():
    event = fake_event("balance.available", "txn_1")
    response = deliver(event)
    assert response.status_code == 200 and response.content == b"ignored"
    stored = StripeEvent.objects.get(stripe_id=event["id"])
    assert stored.status == "ignored" and stored.attempts == 0
    assert deliver(event).content == b"duplicate"


def test_get_is_not_allowed():
    assert client_for(None).get("/stripe/webhook/").status_code == 405


def test_every_issue_listed_type_has_a_handler():
    assert set(handlers.HANDLERS) >= {
        "payment_intent.succeeded",
        "payment_intent.payment_failed",
        "charge.refunded",
        "setup_intent.succeeded",
        "payment_method.attached",
        "payment_method.updated",
        "payment_method.detached",
        "invoice.created",
        "invoice.finalized",
        "invoice.paid",
        "invoice.payment_failed",
        "customer.updated",
    }


def test_a_handler_that_fails_once_succeeds_on_stripes_retry(org, owner, monkeypatch):
    add_card(org, owner)
    payment = buy(org, owner)
    payment.refresh_from_db()
    event = stripe_events(payment.stripe_payment_intent_id, "payment_intent.succeeded")[0]
    calls = {"n": 0}
    real = sync.payment_intent_sync

    def flaky(object_id: str):  # noqa: ANN202
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConnectionError("Stripe timed out")
        return real(object_id)

    monkeypatch.setitem(handlers.HANDLERS, "payment_intent.succeeded", (flaky,))
    first = deliver(event)
    assert first.status_code == 500  # non-2xx: Stripe will deliver it again
    stored = StripeEvent.objects.get(stripe_id=event["id"])
    assert stored.status == "failed" and "Stripe timed out" in stored.error
    assert balance_of(org) == 0

    retry = deliver(event)
    assert retry.status_code == 200 and retry.content == b"retry"
    stored.refresh_from_db()
    assert stored.status == "processed" and stored.attempts == 2 and stored.error == ""
    assert balance_of(org) == 100_000_000
    assert deliver(event).content == b"duplicate"
    assert balance_of(org) == 100_000_000


def _everything_but_events() -> dict[str, list[dict]]:
    """Every row of every model except the event store itself (which records the delivery)."""
    return {
        model._meta.label: list(model.objects.order_by("pk").values())
        for model in apps.get_models()
        if model is not StripeEvent and not model._meta.label.startswith("sessions.")
    }


def test_events_for_objects_of_other_accounts_are_processed_and_change_nothing(org, owner):
    add_card(org, owner)
    payment = buy(org, owner, 20_00)
    deliver(stripe_events(payment.stripe_payment_intent_id, "payment_intent.succeeded")[0])
    assert balance_of(org) == 20_000_000
    # A PaymentIntent of a customer this dashboard does not know (another Stripe account user).
    stranger = requests.post(
        f"{settings.STRIPE_API_BASE}/v1/payment_intents",
        data={"amount": 5000, "currency": "usd", "payment_method": "pm_card_visa"},
        headers={"Authorization": f"Bearer {settings.STRIPE_SECRET_KEY}"},
        timeout=10,
    ).json()
    before = _everything_but_events()

    unknown_invoice = fake_event("invoice.paid", "in_unknown")
    # localstripe answers 404 for an unknown invoice: a permanent error, recorded on the event
    # and acknowledged (a redelivery could not help)
    assert deliver(unknown_invoice).status_code == 200
    stored = StripeEvent.objects.get(stripe_id=unknown_invoice["id"])
    assert stored.status == "failed" and "Not Found" in stored.error
    strangers_payment = fake_event("payment_intent.succeeded", stranger["id"])
    assert deliver(strangers_payment).status_code == 200
    assert StripeEvent.objects.get(stripe_id=strangers_payment["id"]).status == "processed"

    assert _everything_but_events() == before
    assert balance_of(org) == 20_000_000
