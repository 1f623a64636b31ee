"""Low-balance alert (one email per downward crossing) and auto top-up (once per period)."""

import re

import pytest
from django.core import mail
from django.db import transaction
from django.urls import reverse

from billing import services
from billing.balance import ledger_post
from billing.ledger import balance_of
from billing.models import AutoTopUp, Payment, PaymentPurpose
from tests.billing.conftest import DECLINED_ON_CHARGE, add_card, deliver, stripe_events
from tests.conftest import actor, client_for

pytestmark = pytest.mark.django_db(transaction=True)
DOLLAR = 1_000_000


def move(org, amount: int, key: str) -> None:  # noqa: ANN001
    kind = "usage" if amount < 0 else "adjustment"
    with transaction.atomic():
        ledger_post(organization=org, kind=kind, amount_microdollars=amount, idempotency_key=key)


def test_one_email_per_downward_crossing(org, owner):
    move(org, 100 * DOLLAR, "start")
    services.low_balance_alert_update(
        actor=actor(owner),
        organization=org,
        enabled=True,
        threshold_microdollars=50 * DOLLAR,
        recipients=["finance@acme.test"],
    )
    move(org, -60 * DOLLAR, "u1")  # 100 -> 40: crosses
    move(org, -10 * DOLLAR, "u2")  # 40 -> 30: still below, no second email
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["finance@acme.test"]
    assert "$40.00" in mail.outbox[0].body
    move(org, 50 * DOLLAR, "a1")  # 30 -> 80: re-armed
    move(org, -40 * DOLLAR, "u3")  # 80 -> 40: crosses again
    assert len(mail.outbox) == 2


def test_auto_top_up_charges_once_per_period_and_credits_on_the_webhook(org, owner):
    add_card(org, owner)
    move(org, 30 * DOLLAR, "start")
    services.auto_top_up_update(
        actor=actor(owner),
        organization=org,
        enabled=True,
        threshold_microdollars=20 * DOLLAR,
        amount_cents=100_00,
    )
    move(org, -15 * DOLLAR, "u1")  # 30 -> 15: below 20, charge
    payment = Payment.objects.get(organization=org, purpose=PaymentPurpose.AUTO_TOP_UP)
    move(org, -5 * DOLLAR, "u2")  # 15 -> 10: same period, no second charge
    assert Payment.objects.filter(purpose=PaymentPurpose.AUTO_TOP_UP).count() == 1
    payment.refresh_from_db()
    for event in stripe_events(payment.stripe_payment_intent_id, "payment_intent.succeeded"):
        deliver(event)
    assert balance_of(org) == 110 * DOLLAR


def test_a_failed_auto_top_up_turns_itself_off_records_why_and_emails_owners(org, owner):
    add_card(org, owner, DECLINED_ON_CHARGE)
    move(org, 30 * DOLLAR, "start")
    services.auto_top_up_update(
        actor=actor(owner),
        organization=org,
        enabled=True,
        threshold_microdollars=20 * DOLLAR,
        amount_cents=100_00,
    )
    move(org, -15 * DOLLAR, "u1")
    top_up = AutoTopUp.objects.get(organization=org)
    assert not top_up.enabled
    assert "declined" in top_up.disabled_reason
    assert [m.to for m in mail.outbox] == [["owner@acme.test"]]
    assert "turned off" in mail.outbox[0].subject


def _field_value(html: str, field_id: str) -> str:
    match = re.search(rf'id="{field_id}"[^>]*value="([^"]*)"', html)
    assert match, field_id
    return match.group(1)


def test_auto_top_up_of_10_50_round_trips_exactly_through_the_form(org, owner):
    """Regression: the form showed `amount_cents // 100` ("10"), and saving it stored $10.00."""
    client = client_for(owner)
    url = reverse("billing_auto_top_up", args=[org.slug])
    tab = reverse("billing_tab", args=[org.slug])
    client.post(url, {"threshold": "20.25", "amount": "10.50"})  # disabled: no card needed
    top_up = AutoTopUp.objects.get(organization=org)
    assert (top_up.amount_cents, top_up.threshold_microdollars) == (1050, 20_250_000)

    html = client.get(tab).content.decode()
    shown = _field_value(html, "topup-amount"), _field_value(html, "topup-threshold")
    assert shown == ("10.50", "20.25")
    client.post(url, {"threshold": shown[1], "amount": shown[0]})  # saved again, unchanged
    top_up.refresh_from_db()
    assert (top_up.amount_cents, top_up.threshold_microdollars) == (1050, 20_250_000)


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("10.505", "at most 2 decimals"),
        ("-10", "cannot be negative"),
        ("99999999999", "too large"),
        ("9.99", "between $10 and $10,000"),
        ("10,50", "Use a point for cents, e.g. 10.50"),  # was stored as $1,050.00
        ("1,2,3", "Use a point for cents, e.g. 10.50"),
    ],
)
def test_a_bad_top_up_amount_is_refused_with_a_reason_and_nothing_changes(
    org, owner, typed, message
):
    client = client_for(owner)
    url = reverse("billing_auto_top_up", args=[org.slug])
    client.post(url, {"threshold": "20", "amount": "12.34"})
    response = client.post(url, {"threshold": "20", "amount": typed}, follow=True)
    assert message in response.content.decode()
    assert AutoTopUp.objects.get(organization=org).amount_cents == 1234
