"""Webhook signatures dated in the future beyond the tolerance are refused (issue 9, item 9)."""

import json
import time

import pytest

from billing import stripe_gateway
from stripe_events.models import StripeEvent
from tests.billing.conftest import deliver, fake_event, sign

TOLERANCE = 300  # settings.STRIPE_WEBHOOK_TOLERANCE_SECONDS


def _payload() -> bytes:
    return json.dumps(fake_event("payment_intent.succeeded", "pi_future")).encode()


def test_a_signature_from_an_hour_ahead_is_refused_although_it_is_valid():
    payload = _payload()
    with pytest.raises(stripe_gateway.InvalidWebhook, match="future"):
        stripe_gateway.verify_webhook(payload, sign(payload, timestamp=int(time.time()) + 3600))


def test_a_little_clock_skew_ahead_is_accepted():
    payload = _payload()
    signed = sign(payload, timestamp=int(time.time()) + TOLERANCE // 5)
    assert stripe_gateway.verify_webhook(payload, signed)["id"] == json.loads(payload)["id"]


def test_a_body_that_is_not_utf8_is_an_invalid_webhook_not_a_crash():
    with pytest.raises(stripe_gateway.InvalidWebhook):
        stripe_gateway.verify_webhook(b"\xff\xfe", sign(b"\xff\xfe"))


@pytest.mark.django_db
def test_the_endpoint_answers_400_and_stores_nothing_for_a_future_signature():
    event = fake_event("payment_intent.succeeded", "pi_future")
    response = deliver(event, timestamp=int(time.time()) + 3600)
    assert response.status_code == 400
    assert not StripeEvent.objects.exists()
