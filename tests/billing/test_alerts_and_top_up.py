"""Low-balance alert (one email per downward crossing) and auto top-up (once per period)."""

import pytest
from django.core import mail
from django.db import transaction

from billing import services
from billing.balance import ledger_post
from billing.ledger import balance_of
from billing.models import AutoTopUp, Payment, PaymentPurpose
from tests.billing.conftest import DECLINED_ON_CHARGE, add_card, deliver, stripe_events
from tests.conftest import actor

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
