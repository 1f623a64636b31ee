"""A refund of credits never takes the balance below zero, unless staff refund anyway with a reason.

The case of issue 18 (finding 4), over localstripe: $50 bought, $45 used. Only $5.00 is unspent,
so $5.00 is the most a refund may be; staff may refund the other $45.00 only by ticking "refund
anyway" and writing why, and `verify_ledger` then names that refund as why the balance is -$45.00.
"""

import pytest
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.db import transaction
from django.test import Client

from accounts.models import User
from audit.models import AuditEvent
from billing import refunds
from billing.balance import ledger_post
from billing.ledger import balance_of
from billing.ledger_checks import verify_ledger
from billing.models import Payment, Refund, RefundState
from tests.billing.test_refunds import ledger_refunds, paid, stripe_refunds
from tests.conftest import actor

pytestmark = pytest.mark.django_db(transaction=True)
DOLLAR = 1_000_000
ADMIN_PAYMENTS = "/admin/billing/payment/"


@pytest.fixture
def staff_user() -> User:
    user = User.objects.create_superuser(email="staff@kilo.test", password="x-staff-pass-123")
    TOTP.activate(user, generate_totp_secret())  # the admin opens only to staff using MFA
    return user


@pytest.fixture
def staff(staff_user) -> Client:
    client = Client()
    client.force_login(staff_user)
    return client


def use(org, microdollars: int, key: str = "used") -> None:  # noqa: ANN001
    """Credits spent on usage (a debit without a usage day: no rollup to check it against)."""
    with transaction.atomic():
        ledger_post(
            organization=org, kind="usage", amount_microdollars=-microdollars, idempotency_key=key
        )


@pytest.fixture
def fifty_bought_forty_five_used(org, owner) -> Payment:
    payment = paid(org, owner, 50_00)
    use(org, 45 * DOLLAR)
    assert balance_of(org) == 5 * DOLLAR
    return payment


def test_a_full_refund_of_spent_credits_is_refused_and_the_unspent_5_dollars_is_the_most(
    org, owner, fifty_bought_forty_five_used
):
    payment = fifty_bought_forty_five_used
    assert refunds.refundable_cents(payment) == 5_00

    with pytest.raises(refunds.RefundError, match=r"At most \$5\.00 of this payment"):
        refunds.payment_refund(
            actor=actor(owner), payment=payment, amount_cents=50_00, request_key="all"
        )
    with pytest.raises(refunds.RefundError, match=r"At most \$5\.00"):
        refunds.payment_refund(
            actor=actor(owner), payment=payment, amount_cents=5_01, request_key="one-cent-more"
        )
    assert stripe_refunds(payment) == []  # nothing reached Stripe
    assert not Refund.objects.exists()

    refund = refunds.payment_refund(
        actor=actor(owner), payment=payment, amount_cents=5_00, request_key="unspent"
    )
    assert refund.state == RefundState.SUCCEEDED
    assert [r["amount"] for r in stripe_refunds(payment)] == [5_00]
    assert ledger_refunds(org) == [-5 * DOLLAR]
    assert balance_of(org) == 0
    payment.refresh_from_db()
    assert refunds.refundable_cents(payment) == 0  # $45.00 left of the payment, none unspent
    with pytest.raises(refunds.RefundError, match=r"At most \$0\.00"):
        refunds.payment_refund(
            actor=actor(owner), payment=payment, amount_cents=1, request_key="more"
        )
    assert verify_ledger() == []


def test_a_reason_is_not_enough_without_staff(org, owner, fifty_bought_forty_five_used):
    with pytest.raises(refunds.RefundError, match=r"At most \$5\.00"):
        refunds.payment_refund(
            actor=actor(owner),
            payment=fifty_bought_forty_five_used,
            amount_cents=50_00,
            request_key="owner-anyway",
            beyond_balance_reason="I want it back",
        )
    assert stripe_refunds(fifty_bought_forty_five_used) == []


def test_refunds_reserved_but_not_settled_count_as_paid_back(org, owner):
    """Two payments of $10, $15 used: $5 unspent. A $4 refund of one is reserved (Stripe not
    answered yet); the other payment may then give back $1, not $5."""
    first = paid(org, owner, 10_00)
    second = paid(org, owner, 10_00)
    use(org, 15 * DOLLAR)
    refunds._reserve(actor=actor(owner), payment=first, amount_cents=4_00, key="pending")
    second.refresh_from_db()
    assert refunds.refundable_cents(second) == 1_00
    with pytest.raises(refunds.RefundError, match=r"At most \$1\.00"):
        refunds.payment_refund(
            actor=actor(owner), payment=second, amount_cents=1_01, request_key="too-much"
        )


def test_staff_refund_the_rest_from_admin_capped_then_anyway_with_a_reason(
    org, owner, staff, staff_user, fifty_bought_forty_five_used
):
    payment = fifty_bought_forty_five_used
    selected = {"action": "refund_in_full", "_selected_action": [payment.pk]}

    page = staff.post(ADMIN_PAYMENTS, selected)  # the action asks first
    html = page.content.decode()
    assert page.status_code == 200
    assert "$50.00" in html and "$5.00" in html and "Refund anyway" in html
    assert stripe_refunds(payment) == []

    # Refund without ticking anything: the unspent $5.00.
    staff.post(ADMIN_PAYMENTS, {**selected, "confirm": "yes"})
    assert [r["amount"] for r in stripe_refunds(payment)] == [5_00]
    assert balance_of(org) == 0

    # Ticked without a reason: refused, nothing refunded.
    page = staff.post(ADMIN_PAYMENTS, {**selected, "confirm": "yes", "refund_anyway": "on"})
    assert "Write why the refund goes beyond the unspent credit" in page.content.decode()
    assert [r["amount"] for r in stripe_refunds(payment)] == [5_00]

    # Ticked with a reason: the other $45.00, recorded and audited.
    reason = "Card was stolen; the bank confirmed the fraud."
    staff.post(
        ADMIN_PAYMENTS,
        {**selected, "confirm": "yes", "refund_anyway": "on", "reason": reason},
    )
    assert sorted(r["amount"] for r in stripe_refunds(payment)) == [5_00, 45_00]
    assert balance_of(org) == -45 * DOLLAR
    anyway = Refund.objects.get(amount_cents=45_00)
    assert anyway.state == RefundState.SUCCEEDED
    assert anyway.beyond_balance_reason == reason and anyway.requested_by == staff_user
    assert Refund.objects.get(amount_cents=5_00).beyond_balance_reason == ""

    event = AuditEvent.objects.get(action="billing.refund_beyond_balance")
    assert event.organization_id == org.pk and event.actor_id == staff_user.pk
    assert event.before == {"balance_microdollars": 0, "unspent_cents": 0}
    assert event.after == {
        "refund_cents": 45_00,
        "balance_after_microdollars": -45 * DOLLAR,
        "reason": reason,
    }

    problems = verify_ledger()
    assert [p.organization for p in problems] == [org.slug]
    assert problems[0].problem.startswith("balance -$45.00 is below zero, taken there by refund ")
    assert str(anyway.public_id) in problems[0].problem
    assert f'by staff@kilo.test: "{reason}"' in problems[0].problem


def test_a_balance_below_zero_from_usage_alone_is_not_a_ledger_problem(org, owner):
    paid(org, owner, 10_00)
    use(org, 12 * DOLLAR)
    assert balance_of(org) == -2 * DOLLAR
    assert verify_ledger() == []
