"""Buying credits carries a one-time request key: the same confirmation submitted again charges
nothing, even after the first payment settled (issue 18, finding 5: $25 charged twice when the
confirmation was resubmitted 3 s later). Over HTTP with the test client, against localstripe."""

import pytest
import requests
from django.conf import settings
from django.urls import reverse

from audit.models import AuditEvent
from billing.ledger import balance_of
from billing.models import AutoTopUp, CreditLedgerEntry, Payment, PaymentStatus, StripeCustomer
from organizations.models import Membership, Role
from stripe_events.models import StripeEvent
from tests.billing.conftest import add_card, buy_confirmation, deliver, hidden_fields
from tests.billing.test_purchase_flow import succeeded_event
from tests.conftest import client_for, make_org

pytestmark = pytest.mark.django_db(transaction=True)
DOLLAR = 1_000_000


def stripe_payment_intents(org) -> list[dict]:  # noqa: ANN001
    """The organization's PaymentIntents as Stripe (localstripe) holds them, asked directly."""
    customer = StripeCustomer.objects.get(organization=org).stripe_id
    response = requests.get(
        f"{settings.STRIPE_API_BASE}/v1/payment_intents",
        params={"limit": 100},
        headers={"Authorization": f"Bearer {settings.STRIPE_SECRET_KEY}"},
        timeout=10,
    )
    return [pi for pi in response.json()["data"] if pi.get("customer") == customer]


def purchases(org) -> list[int]:  # noqa: ANN001
    return list(
        CreditLedgerEntry.objects.filter(organization=org, kind="purchase").values_list(
            "amount_microdollars", flat=True
        )
    )


def test_the_same_confirmation_submitted_after_the_first_settled_charges_once(org, owner):
    add_card(org, owner)
    client = client_for(owner)
    url = reverse("billing_buy_credits", args=[org.slug])
    confirmation = buy_confirmation(client, org, {"preset": "custom", "custom_amount": "25"})
    assert confirmation["confirm_cents"] == "2500"

    client.post(url, confirmation)  # Pay
    payment = Payment.objects.get(organization=org)
    assert deliver(succeeded_event(payment)).status_code == 200  # the webhook settles it
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED and balance_of(org) == 25 * DOLLAR

    again = client.post(url, confirmation, follow=True)  # the same confirmation, 3 s later

    assert [pi["amount"] for pi in stripe_payment_intents(org)] == [25_00]
    for event in [succeeded_event(p) for p in Payment.objects.exclude(pk=payment.pk)]:
        deliver(event)  # had a second payment been made, its credits would arrive now
    assert list(Payment.objects.values_list("pk", flat=True)) == [payment.pk]
    assert purchases(org) == [25 * DOLLAR]
    assert balance_of(org) == 25 * DOLLAR
    page = again.content.decode()
    assert "This confirmation was already submitted: the payment of $25.00 is succeeded" in page
    assert "Nothing more was charged." in page


def test_a_key_for_another_amount_is_refused_and_charges_nothing(org, owner):
    """The confirmation of $25 with its amount fields edited to $500: the key is for $25."""
    add_card(org, owner)
    client = client_for(owner)
    confirmation = buy_confirmation(client, org, {"preset": "custom", "custom_amount": "25"})
    edited = {**confirmation, "custom_amount": "500.00", "confirm_cents": "50000"}

    response = client.post(reverse("billing_buy_credits", args=[org.slug]), edited, follow=True)

    assert "This confirmation was for another amount. Nothing was charged" in (
        response.content.decode()
    )
    assert not Payment.objects.exists()
    assert stripe_payment_intents(org) == []


def test_a_key_for_another_organization_is_refused(org, owner):
    """The owner of two organizations posts the first one's confirmation to the second."""
    add_card(org, owner)
    second = make_org("second", "Second Org")
    Membership.objects.create(organization=second, user=owner, role=Role.OWNER)
    add_card(second, owner)
    client = client_for(owner)
    confirmation = buy_confirmation(client, org, {"preset": "custom", "custom_amount": "25"})

    response = client.post(
        reverse("billing_buy_credits", args=[second.slug]), confirmation, follow=True
    )

    assert "belongs to another organization" in response.content.decode()
    assert not Payment.objects.exists()


def test_a_key_from_another_session_or_none_at_all_is_refused(org, owner):
    add_card(org, owner)
    confirmation = buy_confirmation(
        client_for(owner), org, {"preset": "custom", "custom_amount": "25"}
    )
    url = reverse("billing_buy_credits", args=[org.slug])

    other_session = client_for(owner).post(url, confirmation, follow=True)
    without_key = client_for(owner).post(url, {**confirmation, "request_key": ""}, follow=True)

    assert "opened in another session" in other_session.content.decode()
    assert "missing or damaged" in without_key.content.decode()
    assert not Payment.objects.exists()
    assert not StripeEvent.objects.exists()


def test_the_top_up_settings_form_submitted_twice_is_saved_once(org, owner):
    client = client_for(owner)
    tab = client.get(reverse("billing_tab", args=[org.slug])).content.decode()
    key = hidden_fields(tab)["request_key"]
    url = reverse("billing_auto_top_up", args=[org.slug])
    form = {"threshold": "20", "amount": "30", "request_key": key}

    client.post(url, form)
    again = client.post(url, form, follow=True)  # the same form, resubmitted

    assert "Auto top-up saved." in again.content.decode()
    assert AutoTopUp.objects.get(organization=org).amount_cents == 30_00
    assert AuditEvent.objects.filter(action="billing.auto_top_up_updated").count() == 1
    forged = client.post(url, {**form, "request_key": key + "x"}, follow=True)
    assert "missing or damaged" in forged.content.decode()
