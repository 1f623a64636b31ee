"""Billing test helpers: drive localstripe as a browser would, and deliver signed events."""

import hashlib
import hmac
import json
import re
import time

import pytest
import requests
from django.conf import settings
from django.test import Client
from django.urls import reverse

from billing import services
from billing.models import PaymentMethod
from tests.conftest import actor

VISA = "4242424242424242"
DECLINED_ON_CHARGE = "4000000000000341"
NEEDS_3DS = "4000002500003155"


@pytest.fixture(autouse=True)
def _eager_tasks():
    """Tasks run in-process (as in the demo), so a test sees their effect at once."""
    from kilo_dashboard.celery import app

    saved = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = saved


def stripe_js_confirm_setup(client_secret: str, number: str = VISA) -> dict:
    """What localstripe's Stripe.js does for confirmCardSetup() with the card typed in."""
    setup_intent = client_secret.split("_secret_")[0]
    response = requests.post(
        f"{settings.STRIPE_API_BASE}/v1/setup_intents/{setup_intent}/confirm",
        json={
            "key": settings.STRIPE_PUBLISHABLE_KEY,
            "client_secret": client_secret,
            "payment_method_data": {
                "type": "card",
                "card": {"number": number, "exp_month": "12", "exp_year": "2030", "cvc": "123"},
            },
        },
        timeout=10,
    )
    return response.json()


def add_card(org, owner, number: str = VISA) -> PaymentMethod:  # noqa: ANN001
    intent = services.card_setup_start(actor=actor(owner), organization=org)
    confirmed = stripe_js_confirm_setup(intent.client_secret, number)
    assert confirmed["status"] == "succeeded", confirmed
    return services.card_add_from_setup_intent(
        actor=actor(owner), organization=org, setup_intent_id=intent.id
    )


def stripe_events(object_id: str, event_type: str | None = None) -> list[dict]:
    """Events localstripe generated for one object (what it would deliver), oldest first."""
    params = {"limit": 100}
    if event_type:
        params["type"] = event_type
    response = requests.get(
        f"{settings.STRIPE_API_BASE}/v1/events",
        params=params,
        headers={"Authorization": f"Bearer {settings.STRIPE_SECRET_KEY}"},
        timeout=10,
    )
    events = [
        e
        for e in response.json()["data"]
        if (e.get("data") or {}).get("object", {}).get("id") == object_id
    ]
    return sorted(events, key=lambda e: e["created"])


def sign(payload: bytes, *, timestamp: int | None = None, secret: str | None = None) -> str:
    timestamp = int(time.time()) if timestamp is None else timestamp
    secret = secret or settings.STRIPE_WEBHOOK_SECRET
    signature = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256)
    return f"t={timestamp},v1={signature.hexdigest()}"


def deliver(event: dict | bytes, **sign_options: object):  # noqa: ANN201
    """POST an event to the webhook as Stripe does: raw JSON body, Stripe-Signature header."""
    payload = event if isinstance(event, bytes) else json.dumps(event).encode()
    return Client().post(
        "/stripe/webhook/",
        data=payload,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=sign(payload, **sign_options),
    )


def fake_event(event_type: str, object_id: str, event_id: str | None = None) -> dict:
    return {
        "id": event_id or f"evt_test_{event_type.replace('.', '_')}_{object_id}",
        "object": "event",
        "type": event_type,
        "created": int(time.time()),
        "api_version": settings.STRIPE_API_VERSION,
        "data": {"object": {"id": object_id}},
    }


def hidden_fields(html: str) -> dict:
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', html))


def buy_confirmation(client: Client, org, data: dict) -> dict:  # noqa: ANN001
    """The Buy form posted, then the confirmation page's hidden fields (amount and its key)."""
    page = client.post(reverse("billing_buy_credits", args=[org.slug]), data)
    assert page.status_code == 200, page
    return hidden_fields(page.content.decode())


def buy_and_confirm(client: Client, org, data: dict, **post_options: object):  # noqa: ANN001, ANN201
    """What a person does: the Buy form, then Pay on the confirmation page."""
    fields = buy_confirmation(client, org, data)
    return client.post(reverse("billing_buy_credits", args=[org.slug]), fields, **post_options)
