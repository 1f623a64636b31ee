"""Changes at once under faults: Stripe charged but the local apply failed (once, or for good),
a 3-D Secure payment finished after the tab was closed, drifted local state, and Stripe's
proration formula checked by hand."""

import uuid
from datetime import timedelta

import pytest
import requests
import time_machine
from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone

from audit.models import AuditEvent
from billing import services as billing_services
from billing import stripe_gateway as gateway
from billing import stripe_subscriptions
from billing.stripe_subscription_data import prorate
from subscriptions import intents, renewal, resume, services, tasks
from subscriptions.models import ChangeIntent, ChangeKind, IntentState, SubscriptionChange
from subscriptions.plans import PlanPrice
from tests.billing.conftest import NEEDS_3DS, deliver, fake_event, stripe_events
from tests.conftest import actor
from tests.subscriptions.conftest import in_stripe, stripe_prorated, subscribe

pytestmark = pytest.mark.django_db(transaction=True)

DAY = 24 * 3600


def test_prorate_is_stripes_formula_checked_by_hand():
    # A 30-day period, 10 days used, 10 -> 12 Teams seats ($15): the unused 20 days of $150
    # are credited ($100.00) and 20 days of $180 charged ($120.00): $20.00 due.
    lines = prorate(
        period_start=0,
        period_end=30 * DAY,
        proration_date=10 * DAY,
        old_total=150_00,
        new_total=180_00,
        old_label="10 × Kilo Teams",
        new_label="12 × Kilo Teams",
    )
    assert [line.amount for line in lines] == [-100_00, 120_00]
    # Rounding to the nearest cent, half up: 1/3 of $0.05 is 1.67 cents -> 2; 1/3 of $0.04 is
    # 1.33 cents -> 1.
    lines = prorate(
        period_start=0,
        period_end=3,
        proration_date=2,
        old_total=4,
        new_total=5,
        old_label="a",
        new_label="b",
    )
    assert [line.amount for line in lines] == [-1, 2]


def _later(minutes: int = 3):  # noqa: ANN202
    """The resume task only takes intents no request touched for a while."""
    return time_machine.travel(timezone.now() + timedelta(minutes=minutes), tick=True)


def _break_apply(monkeypatch, times: int | None) -> list[int]:  # noqa: ANN001
    """Make the local apply fail (as "database is locked" did) `times` times, or always."""
    calls: list[int] = []
    real = intents._apply_locally

    def failing(intent, data):  # noqa: ANN001, ANN202
        calls.append(intent.pk)
        if times is None or len(calls) <= times:
            raise DatabaseError("database is locked")
        return real(intent, data)

    monkeypatch.setattr(intents, "_apply_locally", failing)
    return calls


def test_an_upgrade_charged_in_stripe_whose_local_apply_failed_is_completed_by_the_task(
    org, owner, admin, member, monkeypatch
):
    sub = subscribe(org, owner, seats=5)
    preview = services.change_preview(org, plan="enterprise")
    _break_apply(monkeypatch, times=1)

    with pytest.raises(intents.ChangeInProgress, match="payment went through"):
        renewal.plan_change(
            actor=actor(owner),
            organization=org,
            plan="enterprise",
            proration_date=preview.proration_date,
            request_key="upgrade-1",
        )

    data = in_stripe(sub)
    assert data.plan_id == PlanPrice("enterprise", "month").stripe_id  # Stripe switched and charged
    # Not applied here: no history row, no receipt of the upgrade (the reconcile it triggered
    # may already have mirrored Stripe's plan).
    assert not SubscriptionChange.objects.filter(kind=ChangeKind.UPGRADED).exists()
    intent = ChangeIntent.objects.get(kind=ChangeKind.UPGRADED)
    assert (intent.state, intent.attempts) == (IntentState.PAID, 1)
    expected = stripe_prorated(
        old_total=5 * 15_00,
        new_total=5 * 150_00,
        period_start=data.current_period_start,
        period_end=data.current_period_end,
        at=preview.proration_date,
    )
    assert gateway.payment_intent_retrieve(intent.payment_intent_id).status == "succeeded"
    assert gateway.payment_intent_retrieve(intent.payment_intent_id).amount == expected

    with _later():
        assert tasks.resume_change_intents() == 1
        assert tasks.resume_change_intents() == 0  # applied: nothing open any more

    sub.refresh_from_db()
    org.refresh_from_db()
    assert (sub.plan, org.plan, org.seat_count) == ("enterprise", "enterprise", 5)
    (upgrade,) = SubscriptionChange.objects.filter(kind=ChangeKind.UPGRADED)
    assert (upgrade.amount_cents, upgrade.from_plan, upgrade.to_plan) == (
        expected,
        "teams",
        "enterprise",
    )
    assert AuditEvent.objects.filter(action="subscription.upgraded", actor=owner).count() == 1
    # The same confirmation submitted again shows the applied change; nothing more is charged.
    again = renewal.plan_change(
        actor=actor(owner),
        organization=org,
        plan="enterprise",
        proration_date=preview.proration_date,
        request_key="upgrade-1",
    )
    assert again.pk == upgrade.pk


def test_a_paid_change_that_can_never_be_applied_is_refunded_and_stripe_restored(
    org, owner, admin, member, monkeypatch
):
    sub = subscribe(org, owner, seats=5)
    _break_apply(monkeypatch, times=None)

    with pytest.raises(intents.ChangeInProgress):
        intents.seats_add(actor=actor(admin), organization=org, seats=2, request_key="two")
    intent = ChangeIntent.objects.get(kind=ChangeKind.SEATS_ADDED)
    assert in_stripe(sub).quantity == 7
    paid = gateway.payment_intent_retrieve(intent.payment_intent_id)
    assert paid.status == "succeeded" and paid.amount > 0

    with _later():
        for _ in range(intents.APPLY_ATTEMPTS):
            resume.intent_resume(intent.pk)

    intent.refresh_from_db()
    assert intent.state == IntentState.REVERSED
    assert in_stripe(sub).quantity == 5  # Stripe back as it was
    refunds = gateway.refunds_for_charge(paid.latest_charge)
    assert sum(refund.amount for refund in refunds) == paid.amount  # the money went back
    org.refresh_from_db()
    assert org.seat_count == 5
    assert not SubscriptionChange.objects.filter(kind=ChangeKind.SEATS_ADDED).exists()
    reversed_event = AuditEvent.objects.get(action="subscription.change_reversed")
    assert reversed_event.after == {"state": "reversed", "refunded_cents": paid.amount}
    # Run again: nothing is refunded twice.
    resume.intent_resume(intent.pk)
    assert len(gateway.refunds_for_charge(paid.latest_charge)) == len(refunds)


def _three_d_secure_card(org, owner) -> None:  # noqa: ANN001
    intent = billing_services.card_setup_start(actor=actor(owner), organization=org)
    from tests.billing.conftest import stripe_js_confirm_setup

    stripe_js_confirm_setup(intent.client_secret, NEEDS_3DS)
    requests.post(  # the fake Stripe.js: "Complete authentication" of the card set-up
        f"{settings.STRIPE_API_BASE}/v1/setup_intents/{intent.id}/confirm",
        json={"key": settings.STRIPE_PUBLISHABLE_KEY, "client_secret": intent.client_secret},
        timeout=10,
    )
    card = billing_services.card_add_from_setup_intent(
        actor=actor(owner), organization=org, setup_intent_id=intent.id
    )
    billing_services.card_make_default(actor=actor(owner), organization=org, method=card)


def _authenticate(payment_intent_id: str) -> None:
    """What localstripe's Stripe.js does when the card holder approves the bank's check."""
    secret = gateway.payment_intent_retrieve(payment_intent_id).client_secret
    response = requests.post(
        f"{settings.STRIPE_API_BASE}/v1/payment_intents/{payment_intent_id}"
        "/_authenticate?success=true",
        json={"key": settings.STRIPE_PUBLISHABLE_KEY, "client_secret": secret},
        timeout=10,
    )
    assert response.status_code == 200, response.text


def test_a_seat_add_authenticated_then_abandoned_is_completed_once_by_its_events(
    org, owner, admin, member
):
    sub = subscribe(org, owner, seats=10)
    _three_d_secure_card(org, owner)
    with pytest.raises(intents.AuthenticationRequired) as needed:
        intents.seats_add(actor=actor(admin), organization=org, seats=2, request_key="add-2")
    payment_intent_id = needed.value.intent.payment_intent_id
    _authenticate(payment_intent_id)  # ... and the tab is closed: no "complete" request

    succeeded = stripe_events(payment_intent_id, "payment_intent.succeeded")
    assert succeeded, "localstripe sends payment_intent.succeeded"
    for n in range(4):  # the issue saw it processed 4 times
        deliver(fake_event("payment_intent.succeeded", payment_intent_id, f"evt_pi_ok_{n}"))
    with _later():
        tasks.resume_change_intents()

    assert in_stripe(sub).quantity == 12
    org.refresh_from_db()
    assert org.seat_count == 12
    (added,) = SubscriptionChange.objects.filter(kind=ChangeKind.SEATS_ADDED)
    assert (added.from_quantity, added.to_quantity, added.actor) == (10, 12, admin)
    assert added.amount_cents == gateway.payment_intent_retrieve(payment_intent_id).amount
    assert ChangeIntent.objects.get(kind=ChangeKind.SEATS_ADDED).state == IntentState.APPLIED


def test_an_authentication_never_completed_expires_and_charges_nothing(org, owner, admin, member):
    sub = subscribe(org, owner, seats=10)
    _three_d_secure_card(org, owner)
    with pytest.raises(intents.AuthenticationRequired) as needed:
        intents.seats_add(actor=actor(admin), organization=org, seats=1, request_key="add-1")
    with pytest.raises(services.SubscriptionError, match="bank's confirmation"):
        intents.seats_add(actor=actor(admin), organization=org, seats=1, request_key="other")

    with _later(minutes=24 * 60):
        tasks.resume_change_intents()

    intent = ChangeIntent.objects.get(pk=needed.value.intent.pk)
    assert intent.state == IntentState.FAILED
    assert gateway.payment_intent_retrieve(intent.payment_intent_id).status == "canceled"
    assert in_stripe(sub).quantity == 10
    assert not SubscriptionChange.objects.filter(kind=ChangeKind.SEATS_ADDED).exists()


def test_a_seat_add_after_drift_is_priced_from_stripe_and_never_negative(org, owner, admin, member):
    # Stripe moved to Enterprise (the failed local commit); the local row says Teams.
    sub = subscribe(org, owner, seats=5)
    data = in_stripe(sub)
    stripe_subscriptions.subscription_change_at_renewal(
        data,
        plan_id=PlanPrice("enterprise", "month").stripe_id,
        quantity=5,
        idempotency_key=f"d-{uuid.uuid4()}",
    )
    sub.refresh_from_db()
    assert sub.plan == "teams"

    preview = services.change_preview(org, add_seats=1)
    expected = stripe_prorated(
        old_total=5 * 150_00,
        new_total=6 * 150_00,
        period_start=data.current_period_start,
        period_end=data.current_period_end,
        at=preview.proration_date,
    )
    assert preview.amount_cents == expected > 0
    change = intents.seats_add(
        actor=actor(admin),
        organization=org,
        seats=1,
        proration_date=preview.proration_date,
        request_key="one",
        expected_cents=preview.amount_cents,
    )
    assert change.amount_cents == expected
    after = in_stripe(sub)
    assert (after.quantity, after.plan_id) == (6, PlanPrice("enterprise", "month").stripe_id)
    sub.refresh_from_db()
    assert (sub.plan, sub.quantity) == ("enterprise", 6)


def test_a_negative_seat_add_amount_is_refused_and_triggers_the_reconcile(
    org, owner, admin, member, monkeypatch
):
    sub = subscribe(org, owner, seats=5)
    enqueued: list[str] = []
    monkeypatch.setattr(services, "enqueue", lambda name, *args: enqueued.append(name))
    credit = stripe_subscriptions.ProrationPreview(
        0, (stripe_subscriptions.ProrationLine("Unused time", -659_96),), True
    )
    monkeypatch.setattr(
        stripe_subscriptions, "subscription_proration_preview", lambda *a, **k: credit
    )

    with pytest.raises(services.SubscriptionError, match="changed in Stripe"):
        services.change_preview(org, add_seats=1)
    with pytest.raises(services.SubscriptionError, match="changed in Stripe"):
        intents.seats_add(actor=actor(admin), organization=org, seats=1, request_key="neg")

    assert in_stripe(sub).quantity == 5
    assert ChangeIntent.objects.get(kind=ChangeKind.SEATS_ADDED).state == IntentState.FAILED
    assert enqueued == ["subscriptions.tasks.reconcile_subscriptions"] * 2


def test_drift_repaired_by_the_reconcile_is_listed_in_admin(org, owner, admin, member):
    from django.test import Client

    from accounts.models import User

    sub = subscribe(org, owner, seats=5)
    data = in_stripe(sub)
    stripe_subscriptions.subscription_change_at_renewal(
        data,
        plan_id=PlanPrice("teams", "year").stripe_id,
        quantity=7,
        idempotency_key=f"drift-{uuid.uuid4()}",
    )
    assert tasks.reconcile_subscriptions() == 1
    sub.refresh_from_db()
    assert (sub.quantity, sub.interval) == (7, "year")

    staff = User.objects.create_superuser(email="ops@kilo.test", password="x-Long-pass-1")
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret

    TOTP.activate(staff, generate_totp_secret())  # the admin opens only to staff using MFA
    client = Client()
    client.force_login(staff)
    page = client.get("/admin/subscriptions/subscriptionchange/?kind__exact=reconciled")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Corrected from Stripe" in text and "quantity 5 → 7" in text
