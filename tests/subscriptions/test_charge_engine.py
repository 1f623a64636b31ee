"""The charge engine against what the payments audit found (issue 18): a start that cannot be
applied gives all its money back; two starts at once leave one subscription in Stripe; a crash
between the proration charge and its local record never charges twice or records $0.

Every expected amount is the plan's list price times seats, or Stripe's proration formula
computed by hand (tests/subscriptions/conftest.stripe_prorated), and what was captured is read
back from localstripe, not from the dashboard's own rows."""

import threading
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from audit.models import AuditEvent
from billing import stripe_gateway as gateway
from billing import stripe_subscriptions
from billing.models import SeatCharge, StripeCustomer
from subscriptions import intents, resume
from subscriptions.demo import plans_sync
from subscriptions.models import ChangeIntent, ChangeKind, IntentState, Subscription
from tests.billing.conftest import add_card
from tests.conftest import actor
from tests.subscriptions.conftest import in_stripe, stripe_prorated, subscribe

pytestmark = pytest.mark.django_db(transaction=True)

DAY = 24 * 3600


def _later(minutes: int = 3):  # noqa: ANN202
    return time_machine.travel(timezone.now() + timedelta(minutes=minutes), tick=True)


def _captured_net(org) -> int:  # noqa: ANN001
    """What Stripe kept from this customer: succeeded payments minus their refunds."""
    customer = StripeCustomer.objects.get(organization=org).stripe_id
    total = 0
    for payment in gateway.payment_intents_for_customer(customer):
        if payment.status != "succeeded":
            continue
        refunded = sum(r.amount for r in gateway.refunds_for_charge(payment.latest_charge))
        total += payment.amount - refunded
    return total


def _live_in_stripe(org) -> list[stripe_subscriptions.SubscriptionData]:  # noqa: ANN001
    customer = StripeCustomer.objects.get(organization=org).stripe_id
    return [
        data
        for data in stripe_subscriptions.subscriptions_for_customer(customer)
        if data.status in ("active", "trialing", "past_due")
    ]


def test_a_start_that_can_never_be_applied_refunds_its_first_payment(
    org, owner, admin, member, monkeypatch
):
    plans_sync()
    add_card(org, owner)

    def failing(intent, data):  # noqa: ANN001, ANN202
        raise RuntimeError("database is locked")

    monkeypatch.setattr(intents, "_apply_locally", failing)
    with pytest.raises(intents.ChangeInProgress, match="payment went through"):
        intents.subscription_start(
            actor=actor(owner), organization=org, plan="teams", interval="month", seats=4
        )
    assert _captured_net(org) == 4 * 15_00  # $60 taken by the first invoice

    intent = ChangeIntent.objects.get(kind=ChangeKind.SUBSCRIBED)
    with _later():
        for _ in range(intents.APPLY_ATTEMPTS):
            resume.intent_resume(intent.pk)

    intent.refresh_from_db()
    assert intent.state == IntentState.REVERSED
    assert _captured_net(org) == 0  # the $60 went back
    assert _live_in_stripe(org) == []  # and nothing renews
    event = AuditEvent.objects.get(action="subscription.change_reversed")
    assert event.after == {"state": "reversed", "refunded_cents": 6000}
    # Run again: nothing is refunded twice, no second audit event.
    resume.intent_resume(intent.pk)
    assert _captured_net(org) == 0
    assert AuditEvent.objects.filter(action="subscription.change_reversed").count() == 1


def test_two_starts_at_once_leave_one_subscription_in_stripe(org, owner, admin, member):
    plans_sync()
    add_card(org, owner)
    barrier = threading.Barrier(2)
    outcomes: dict[int, object] = {}

    def start(seats: int) -> None:
        try:
            barrier.wait(timeout=10)
            outcomes[seats] = intents.subscription_start(
                actor=actor(owner),
                organization=org,
                plan="teams",
                interval="month",
                seats=seats,
                request_key=f"tab-{seats}",
            )
        except Exception as error:  # noqa: BLE001 - recorded for the assertions
            outcomes[seats] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=start, args=(seats,)) for seats in (4, 3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    started = [value for value in outcomes.values() if isinstance(value, Subscription)]
    refused = [value for value in outcomes.values() if isinstance(value, Exception)]
    assert len(started) == 1, outcomes
    assert len(refused) == 1 and "already has a subscription" in str(refused[0])
    (live,) = _live_in_stripe(org)
    sub = Subscription.objects.get(organization=org)
    assert (live.id, live.quantity) == (sub.stripe_id, sub.quantity)
    assert _captured_net(org) == sub.quantity * 15_00  # one first payment, no second


def test_a_second_start_paid_in_stripe_is_canceled_and_refunded_not_mirrored(
    org, owner, admin, member, monkeypatch
):
    """By construction: even if a start got past every check, its apply refuses to replace a
    running subscription, and the engine gives the second one back."""
    first = subscribe(org, owner, seats=4)
    monkeypatch.setattr(intents, "_refuse_if_subscribed", lambda organization: None)

    with pytest.raises(intents.SubscriptionError, match="already has a subscription"):
        intents.subscription_start(
            actor=actor(owner), organization=org, plan="teams", interval="month", seats=3
        )

    (live,) = _live_in_stripe(org)
    first.refresh_from_db()
    assert (live.id, first.stripe_id, first.quantity) == (first.stripe_id, live.id, 4)
    assert _captured_net(org) == 4 * 15_00
    second = ChangeIntent.objects.filter(kind=ChangeKind.SUBSCRIBED).order_by("-pk").first()
    assert second.state == IntentState.REVERSED


def _crash_after(monkeypatch, module, name: str) -> None:  # noqa: ANN001
    """The process dies right after `name` returned (Stripe did it; nothing recorded it)."""
    real = getattr(module, name)
    calls: list[int] = []

    def crashing(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        result = real(*args, **kwargs)
        calls.append(1)
        if len(calls) == 1:
            raise SystemExit("worker killed")
        return result

    monkeypatch.setattr(module, name, crashing)


@pytest.mark.parametrize(
    ("module", "name"),
    [
        (stripe_subscriptions, "payment_intent_create"),  # charged, the change not yet made
        (stripe_subscriptions, "subscription_change_at_renewal"),  # charged and changed
    ],
)
def test_a_crash_after_the_proration_charge_never_charges_twice(
    org, owner, admin, member, monkeypatch, module, name
):
    sub = subscribe(org, owner, seats=10)
    data = in_stripe(sub)
    at = data.current_period_start + 10 * DAY  # day 11 of the period
    # 10 -> 12 seats of $15 on day 11, by Stripe's formula (computed by hand in the helper).
    expected = stripe_prorated(
        old_total=150_00,
        new_total=180_00,
        period_start=data.current_period_start,
        period_end=data.current_period_end,
        at=at,
    )
    assert expected > 0
    before = _captured_net(org)
    _crash_after(monkeypatch, module, name)

    with time_machine.travel(at, tick=False), pytest.raises(SystemExit):
        intents.seats_add(
            actor=actor(admin), organization=org, seats=2, proration_date=at, request_key="k1"
        )
    intent = ChangeIntent.objects.get(kind=ChangeKind.SEATS_ADDED)
    assert intent.state == IntentState.STRIPE_CALLED

    with time_machine.travel(at + 180, tick=False):
        state = resume.intent_resume(intent.pk)
    intent.refresh_from_db()
    assert state == IntentState.APPLIED, intent.last_error

    assert _captured_net(org) - before == expected  # charged once
    intent.refresh_from_db()
    assert intent.amount_cents == expected
    assert in_stripe(sub).quantity == 12
    (receipt,) = SeatCharge.objects.filter(organization=org, amount_cents=expected)
    assert receipt.amount_cents == expected


def test_the_reconcile_cancels_and_refunds_a_subscription_a_failed_start_left_in_stripe(
    org, owner, admin, member
):
    """Every subscription of every customer is listed: one that a start of ours made (its
    metadata names the intent) although that start failed is canceled and refunded, not
    adopted."""
    from billing import services as billing_services
    from subscriptions import sync
    from subscriptions.plans import PlanPrice

    plans_sync()
    add_card(org, owner)
    failed = ChangeIntent.objects.create(
        organization=org,
        kind=ChangeKind.SUBSCRIBED,
        state=IntentState.FAILED,
        to_quantity=3,
        plan="teams",
        interval="month",
        amount_cents=3 * 15_00,
    )
    customer = billing_services.customer_ensure(org)
    stripe_subscriptions.subscription_create(
        customer_id=customer.stripe_id,
        plan_id=PlanPrice("teams", "month").stripe_id,
        quantity=3,
        metadata={"organization": org.slug, "change_intent": str(failed.public_id)},
        idempotency_key=f"left-behind-{failed.public_id}",
    )
    assert _captured_net(org) == 3 * 15_00

    sync.reconcile()

    assert _live_in_stripe(org) == []
    assert _captured_net(org) == 0
    assert not Subscription.objects.filter(organization=org).exists()  # not adopted
    event = AuditEvent.objects.get(action="subscription.change_reversed")
    assert event.after == {"state": "reversed", "refunded_cents": 3 * 15_00}
