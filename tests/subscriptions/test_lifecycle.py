"""The whole lifecycle against localstripe: subscribe, add seats (the charge equals the preview),
remove seats at renewal, change frequency, upgrade, downgrade, cancel, undo, end."""

import zoneinfo

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from billing import stripe_gateway as gateway
from billing import stripe_subscriptions
from organizations import invitations
from organizations.models import Organization, Role
from organizations.services import SeatLimitReached
from subscriptions import intents, renewal, services
from subscriptions.models import ChangeKind, Status, Subscription, SubscriptionChange
from subscriptions.plans import PlanPrice
from tests.billing.conftest import deliver, stripe_events
from tests.conftest import actor, client_for
from tests.subscriptions.conftest import in_stripe, stripe_prorated, subscribe

pytestmark = pytest.mark.django_db(transaction=True)


def test_sync_stripe_plans_creates_four_plans_once(capsys):
    call_command("sync_stripe_plans")
    first = capsys.readouterr().out
    call_command("sync_stripe_plans")
    second = capsys.readouterr().out
    assert first.count("kilo-") == 4
    assert "kilo-teams-month-1500" in first and "kilo-enterprise-year-180000" in first
    assert second.count("up to date") == 4


def test_subscribing_needs_as_many_seats_as_are_in_use(org, owner, admin, member):
    with pytest.raises(services.SubscriptionError, match="at least 3 seats"):
        subscribe(org, owner, seats=2)
    assert not Subscription.objects.exists()


def test_subscribing_needs_a_card(org, owner):
    with pytest.raises(services.SubscriptionError, match="Add a card"):
        intents.subscription_start(
            actor=actor(owner), organization=org, plan="teams", interval="month", seats=5
        )


def test_subscribe_mirrors_stripe_and_sets_the_seat_limit(org, owner, admin, member):
    sub = subscribe(org, owner, seats=10)

    data = in_stripe(sub)
    assert (data.quantity, data.plan_id, data.status) == (10, "kilo-teams-month-1500", "active")
    assert (sub.quantity, sub.plan, sub.interval, sub.status) == (10, "teams", "month", "active")
    org.refresh_from_db()
    assert (org.seat_count, org.plan) == (10, "teams")
    change = SubscriptionChange.objects.get(organization=org)
    assert (change.kind, change.to_quantity, change.amount_cents) == ("subscribed", 10, 150_00)
    assert AuditEvent.objects.filter(action="subscription.subscribed", actor=owner).count() == 1


def test_the_whole_lifecycle(org, owner, admin, member):
    sub = subscribe(org, owner, seats=10)

    # Add two seats: preview and charge are Stripe's proration of 10 -> 12 x $15.
    preview = services.change_preview(org, add_seats=2)
    assert preview.from_quantity == 10 and preview.to_quantity == 12
    period = in_stripe(sub)
    expected = stripe_prorated(
        old_total=10 * 15_00,
        new_total=12 * 15_00,
        period_start=period.current_period_start,
        period_end=period.current_period_end,
        at=preview.proration_date,
    )
    assert preview.amount_cents == expected
    change = intents.seats_add(
        actor=actor(admin),
        organization=org,
        seats=2,
        proration_date=preview.proration_date,
        request_key="add-two",
    )
    assert change.amount_cents == expected
    assert gateway.payment_intent_retrieve(change.stripe_ref).amount == expected
    assert in_stripe(sub).quantity == 12
    org.refresh_from_db()
    assert org.seat_count == 12
    # The same confirmation submitted twice changes nothing more.
    again = intents.seats_add(
        actor=actor(admin),
        organization=org,
        seats=2,
        proration_date=preview.proration_date,
        request_key="add-two",
    )
    assert again.pk == change.pk and in_stripe(sub).quantity == 12

    # Remove unused seats: at the renewal, never below the seats in use.
    with pytest.raises(services.SubscriptionError, match="3 seats are in use"):
        renewal.seats_remove_at_renewal(actor=actor(owner), organization=org, seats=2)
    renewal.seats_remove_at_renewal(actor=actor(owner), organization=org, seats=8)
    sub.refresh_from_db()
    assert (sub.quantity, sub.scheduled_quantity, in_stripe(sub).quantity) == (12, 8, 12)
    page = client_for(owner).get(reverse("subscriptions_tab", args=[org.slug]))
    renews_on = timezone.localtime(sub.current_period_end, zoneinfo.ZoneInfo(org.time_zone))
    assert f"12 seats, 8 from {renews_on:%-d %B}" in page.content.decode()

    # Billing frequency: yearly from the renewal.
    renewal.interval_change_at_renewal(actor=actor(owner), organization=org, interval="year")

    # Upgrade at once, prorated; downgrade waits for the renewal.
    upgrade_preview = services.change_preview(org, plan="enterprise")
    upgrade = renewal.plan_change(
        actor=actor(owner),
        organization=org,
        plan="enterprise",
        proration_date=upgrade_preview.proration_date,
        request_key="upgrade",
    )
    upgrade_expected = stripe_prorated(
        old_total=12 * 15_00,
        new_total=12 * 150_00,
        period_start=period.current_period_start,
        period_end=period.current_period_end,
        at=upgrade_preview.proration_date,
    )
    assert upgrade_preview.amount_cents == upgrade_expected
    assert upgrade.amount_cents == upgrade_expected
    assert gateway.payment_intent_retrieve(upgrade.stripe_ref).amount == upgrade_expected
    assert in_stripe(sub).plan_id == PlanPrice("enterprise", "month").stripe_id
    org.refresh_from_db()
    assert org.plan == "enterprise"
    renewal.plan_change(actor=actor(owner), organization=org, plan="teams")
    sub.refresh_from_db()
    assert (sub.plan, sub.scheduled_plan) == ("enterprise", "teams")

    # The renewal: every scheduled change reaches Stripe, once.
    assert renewal.scheduled_changes_apply(sub.pk, now=sub.current_period_end)
    assert not renewal.scheduled_changes_apply(sub.pk, now=sub.current_period_end)
    data = in_stripe(sub)
    assert (data.quantity, data.plan_id) == (8, PlanPrice("teams", "year").stripe_id)
    sub.refresh_from_db()
    assert (sub.quantity, sub.plan, sub.interval) == (8, "teams", "year")
    assert not sub.has_scheduled_change
    org.refresh_from_db()
    assert (org.seat_count, org.plan) == (8, "teams")

    # Cancel (typed name), undo, cancel again.
    with pytest.raises(services.SubscriptionError, match="Type the organization"):
        renewal.subscription_cancel(actor=actor(owner), organization=org, confirm_name="Acme")
    renewal.subscription_cancel(actor=actor(owner), organization=org, confirm_name="Acme Robotics")
    assert in_stripe(sub).cancel_at_period_end is True
    renewal.subscription_cancel_undo(actor=actor(owner), organization=org)
    assert in_stripe(sub).cancel_at_period_end is False
    renewal.subscription_cancel(actor=actor(owner), organization=org, confirm_name="acme robotics ")

    # The end: Stripe deletes it at the period's end and tells us.
    stripe_subscriptions.subscription_cancel_now(sub.stripe_id)
    (deleted,) = stripe_events(sub.stripe_id, "customer.subscription.deleted")
    assert deliver(deleted).status_code == 200
    sub.refresh_from_db()
    assert sub.status == Status.CANCELED and sub.has_ended
    org.refresh_from_db()
    # Back to the free default (NEW_ORGANIZATION_SEATS is 5 in the test settings): the three
    # members keep their access, two more may be invited, then the limit holds.
    assert (org.seat_count, org.plan) == (5, "teams")
    for n in range(2):
        invitations.invitation_create(
            actor=actor(owner), organization=org, email=f"late{n}@example.com", role=Role.MEMBER
        )
    with pytest.raises(SeatLimitReached, match="All 5 seats are in use"):
        invitations.invitation_create(
            actor=actor(owner), organization=org, email="late@example.com", role=Role.MEMBER
        )
    billing = client_for(owner).get(reverse("billing_tab", args=[org.slug]))
    assert billing.status_code == 200
    assert "Subscription ended" in billing.content.decode()
    kinds = list(
        SubscriptionChange.objects.filter(organization=org)
        .order_by("id")
        .values_list("kind", flat=True)
    )
    assert kinds == [
        ChangeKind.SUBSCRIBED,
        ChangeKind.SEATS_ADDED,
        ChangeKind.SEATS_REMOVAL_SCHEDULED,
        ChangeKind.INTERVAL_CHANGE_SCHEDULED,
        ChangeKind.UPGRADED,
        ChangeKind.DOWNGRADE_SCHEDULED,
        ChangeKind.SEATS_REMOVED,
        ChangeKind.DOWNGRADED,
        ChangeKind.INTERVAL_CHANGED,
        ChangeKind.CANCEL_SCHEDULED,
        ChangeKind.CANCEL_UNDONE,
        ChangeKind.CANCEL_SCHEDULED,
        ChangeKind.ENDED,
    ]
    assert AuditEvent.objects.filter(action__startswith="subscription.").count() == len(kinds)


def test_the_renewal_keeps_seats_that_came_into_use_after_the_removal_was_scheduled(
    org, owner, admin, member
):
    sub = subscribe(org, owner, seats=10)
    renewal.seats_remove_at_renewal(actor=actor(owner), organization=org, seats=3)
    for n in range(2):
        invitations.invitation_create(
            actor=actor(owner), organization=org, email=f"n{n}@example.com", role=Role.MEMBER
        )
    renewal.scheduled_changes_apply(sub.pk, now=sub.current_period_end)
    assert in_stripe(sub).quantity == 5
    removed = SubscriptionChange.objects.get(kind=ChangeKind.SEATS_REMOVED)
    assert (removed.to_quantity, removed.note) == (5, "Kept 5: that many are in use.")
    assert Organization.objects.get(pk=org.pk).seat_count == 5


def test_an_expired_preview_is_refused_and_nothing_changes(org, owner, admin, member):
    sub = subscribe(org, owner, seats=10)
    stale = int(sub.current_period_start.timestamp()) - 10
    with pytest.raises(services.SubscriptionError, match="expired"):
        intents.seats_add(
            actor=actor(admin), organization=org, seats=1, proration_date=stale, request_key="x"
        )
    assert in_stripe(sub).quantity == 10


def test_members_cannot_add_seats_and_admins_cannot_cancel(org, owner, admin, member):
    from django.core.exceptions import PermissionDenied

    subscribe(org, owner, seats=10)
    with pytest.raises(PermissionDenied):
        intents.seats_add(actor=actor(member), organization=org, seats=1)
    with pytest.raises(PermissionDenied):
        renewal.subscription_cancel(
            actor=actor(admin), organization=org, confirm_name="Acme Robotics"
        )
    with pytest.raises(PermissionDenied):
        renewal.seats_remove_at_renewal(actor=actor(admin), organization=org, seats=5)
