"""Card and billing-detail changes made in Stripe (its dashboard or API) are audited as done by
Stripe when their events arrive, with a readable before/after, and only when our copy changed:
a replayed event, or our own change coming back as an event, records nothing new."""

import json

import pytest
import requests
from django.conf import settings

from audit.models import AuditEvent
from billing import services, stripe_gateway
from billing.models import PaymentMethod, StripeCustomer
from tests.billing.conftest import add_card, deliver, fake_event
from tests.billing.test_stripe_shapes import FIXTURES
from tests.conftest import actor

pytestmark = pytest.mark.django_db(transaction=True)


def stripe_post(path: str, data: dict) -> dict:
    """A change made in Stripe directly, as its dashboard would."""
    response = requests.post(
        f"{settings.STRIPE_API_BASE}{path}",
        data=data,
        headers={"Authorization": f"Bearer {settings.STRIPE_SECRET_KEY}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return response.json()


def stripe_audit(org) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(organization=org, actor_type="stripe").order_by("id"))


def test_a_card_added_in_stripe_is_audited_as_done_by_stripe_once(org, owner):
    customer = services.customer_ensure(org)
    card = stripe_post(
        "/v1/payment_methods",
        {
            "type": "card",
            "card[number]": "5555555555554444",
            "card[exp_month]": "7",
            "card[exp_year]": "2031",
            "card[cvc]": "123",
        },
    )
    stripe_post(f"/v1/payment_methods/{card['id']}/attach", {"customer": customer.stripe_id})
    event = fake_event("payment_method.attached", card["id"])

    assert deliver(event).status_code == 200
    deliver(event)  # Stripe delivers it again
    deliver(fake_event("payment_method.updated", card["id"], "evt_same_card_again"))

    [added] = stripe_audit(org)
    assert added.action == "billing.card_added"
    assert added.actor is None
    assert added.actor_label == f"Stripe event {event['id']} (payment_method.attached)"
    # localstripe calls every card a Visa.
    assert added.before is None
    assert added.after == {"brand": "Visa", "last4": "4444", "expiry": "07/2031"}
    assert added.target_label == "Visa ···· 4444"


def test_a_card_added_through_our_billing_tab_is_not_audited_again_when_its_events_arrive(
    org, owner
):
    card = add_card(org, owner)
    customer = StripeCustomer.objects.get(organization=org)
    deliver(fake_event("payment_method.attached", card.stripe_id))
    deliver(fake_event("customer.updated", customer.stripe_id))
    assert stripe_audit(org) == []
    assert list(AuditEvent.objects.filter(organization=org).values_list("action", "actor")) == [
        ("billing.card_added", owner.pk)
    ]


def test_a_card_removed_in_stripe_is_audited_with_what_it_was(org, owner):
    card = add_card(org, owner)
    stripe_post(f"/v1/payment_methods/{card.stripe_id}/detach", {})

    deliver(fake_event("payment_method.detached", card.stripe_id))
    deliver(fake_event("payment_method.detached", card.stripe_id, "evt_detached_replayed"))

    [removed] = stripe_audit(org)
    assert removed.action == "billing.card_removed"
    assert removed.before == {
        "brand": "Visa",
        "last4": "4242",
        "expiry": "12/2030",
        "default": True,
    }
    assert removed.after is None
    assert PaymentMethod.objects.get(pk=card.pk).detached_at is not None


def test_a_card_removed_through_our_billing_tab_records_nothing_more_when_stripe_confirms(
    org, owner
):
    card = add_card(org, owner)
    services.card_remove(actor=actor(owner), organization=org, method=card)
    deliver(fake_event("payment_method.detached", card.stripe_id))
    assert stripe_audit(org) == []


def test_a_new_expiry_set_in_stripe_is_audited_as_a_card_change(org, owner, monkeypatch):
    """localstripe cannot update a card's expiry (it would replace the whole card), so Stripe's
    answer is the current API's official example, re-addressed to our card and customer."""
    card = add_card(org, owner)
    customer = StripeCustomer.objects.get(organization=org)
    example = json.loads(FIXTURES.read_text())["resources"]["payment_method"]
    example = {
        **example,
        "id": card.stripe_id,
        "customer": customer.stripe_id,
        "card": {**example["card"], "last4": "4242", "exp_month": 1, "exp_year": 2033},
    }
    monkeypatch.setattr(
        stripe_gateway, "payment_method_retrieve", lambda _id: stripe_gateway.parse_card(example)
    )

    deliver(fake_event("payment_method.updated", card.stripe_id))
    deliver(fake_event("payment_method.updated", card.stripe_id, "evt_updated_replayed"))

    [changed] = stripe_audit(org)
    assert changed.action == "billing.card_updated"
    assert changed.before == {"brand": "Visa", "last4": "4242", "expiry": "12/2030"}
    assert changed.after == {"brand": "Visa", "last4": "4242", "expiry": "01/2033"}


def test_a_default_card_chosen_in_stripe_is_audited_with_the_old_and_new_card(org, owner):
    first = add_card(org, owner)
    second = add_card(org, owner, "5555555555554444")
    customer = StripeCustomer.objects.get(organization=org)
    stripe_post(
        f"/v1/customers/{customer.stripe_id}",
        {"invoice_settings[default_payment_method]": second.stripe_id},
    )

    deliver(fake_event("customer.updated", customer.stripe_id))
    deliver(fake_event("customer.updated", customer.stripe_id, "evt_customer_replayed"))

    [changed] = stripe_audit(org)
    assert changed.action == "billing.card_default_set"
    assert changed.before == {"default_card": "Visa ···· 4242"}
    assert changed.after == {"default_card": "Visa ···· 4444"}
    assert PaymentMethod.objects.get(pk=second.pk).is_default
    assert not PaymentMethod.objects.get(pk=first.pk).is_default


def test_billing_details_edited_in_stripe_are_mirrored_and_audited_field_by_field(org, owner):
    services.billing_details_update(
        actor=actor(owner),
        organization=org,
        email="ap@acme.test",
        name="Acme Robotics GmbH",
        address={"line1": "Hauptstr. 1", "city": "Berlin", "postal_code": "10115", "country": "DE"},
        tax_id="DE123456789",
    )
    customer = StripeCustomer.objects.get(organization=org)
    deliver(fake_event("customer.updated", customer.stripe_id, "evt_our_own_change"))
    assert stripe_audit(org) == []  # our own change, coming back: nothing new

    stripe_post(
        f"/v1/customers/{customer.stripe_id}",
        {
            "email": "invoices@acme.test",
            "address[line1]": "Hauptstr. 1",
            "address[city]": "Hamburg",
            "address[postal_code]": "20095",
            "address[country]": "DE",
        },
    )
    deliver(fake_event("customer.updated", customer.stripe_id))
    deliver(fake_event("customer.updated", customer.stripe_id, "evt_customer_again"))

    [changed] = stripe_audit(org)
    assert changed.action == "billing.details_updated"
    assert changed.before == {
        "email": "ap@acme.test",
        "address_city": "Berlin",
        "address_postal_code": "10115",
    }
    assert changed.after == {
        "email": "invoices@acme.test",
        "address_city": "Hamburg",
        "address_postal_code": "20095",
    }
    customer.refresh_from_db()
    assert (customer.email, customer.address_city, customer.name) == (
        "invoices@acme.test",
        "Hamburg",
        "Acme Robotics GmbH",
    )


def test_a_stripe_change_shows_readably_in_the_audit_log(org, owner):
    from django.urls import reverse

    from organizations.models import Plan
    from tests.conftest import client_for

    org.plan = Plan.ENTERPRISE
    org.save(update_fields=["plan"])
    card = add_card(org, owner)
    stripe_post(f"/v1/payment_methods/{card.stripe_id}/detach", {})
    deliver(fake_event("payment_method.detached", card.stripe_id))

    html = client_for(owner).get(reverse("audit_tab", args=[org.slug])).content.decode()
    table = html[html.index('id="audit-rows"') :]
    assert "Card removed" in table and "Stripe" in table
    assert "payment_method.detached" in table and "12/2030" in table
