"""Changes that wait for the renewal (fewer seats, billing frequency, downgrade), the plan
change (an upgrade is made at once through services), cancellation and the renewal itself.

Same rules as services.py: checked here, one transaction with the history row and the audit
event, Organization.seat_count/plan kept in step.
"""

from collections.abc import Callable
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from audit.services import Actor
from billing import stripe_gateway as gateway
from billing import stripe_subscriptions
from kilo_dashboard.jobs import enqueue
from organizations.models import Organization
from organizations.permissions import Capability
from organizations.selectors import seat_usage

from .intents import change_now, outcome_for
from .models import ChangeKind, Subscription, SubscriptionChange
from .plans import Interval, PlanPrice, is_upgrade
from .services import (
    RECONCILE_TASK,
    SubscriptionError,
    _locked,
    _require,
    _stripe,
    mirror,
    organization_plan_sync,
    record_change,
    snapshot,
)

# --- changes at renewal -------------------------------------------------------------------------


def _schedule(
    organization: Organization,
    actor: Actor,
    kind: str,
    apply: Callable[[Subscription], object],
    **fields: object,
) -> SubscriptionChange:
    with transaction.atomic():
        sub = _locked(organization)
        before = snapshot(sub)
        apply(sub)
        sub.save()
        change = record_change(
            sub,
            actor=actor,
            kind=kind,
            before=before,
            effective_at=sub.current_period_end,
            **fields,
        )
    return change


def seats_remove_at_renewal(
    *, actor: Actor, organization: Organization, seats: int
) -> SubscriptionChange:
    """From the next renewal on, `seats` seats (no refund now); never fewer than are in use."""
    _require(actor, organization, Capability.MANAGE_PLAN)
    sub = Subscription.objects.filter(organization=organization).first()
    if sub is None or sub.has_ended:
        raise SubscriptionError("There is no active subscription.")
    usage = seat_usage(organization)
    if seats < usage.used:
        raise SubscriptionError(
            f"{usage.used} seats are in use ({usage.members} members and "
            f"{usage.pending_invitations} pending invitations): keep at least {usage.used}, or "
            f"remove members and revoke invitations first."
        )
    if seats >= sub.quantity:
        if seats == sub.quantity and sub.scheduled_quantity:
            return _schedule(
                organization,
                actor,
                ChangeKind.SCHEDULE_CLEARED,
                lambda s: setattr(s, "scheduled_quantity", None),
                from_quantity=sub.scheduled_quantity,
                to_quantity=sub.quantity,
            )
        raise SubscriptionError(
            f"You have {sub.quantity} seats; to have more, add seats instead (they count at once)."
        )
    return _schedule(
        organization,
        actor,
        ChangeKind.SEATS_REMOVAL_SCHEDULED,
        lambda s: setattr(s, "scheduled_quantity", seats),
        from_quantity=sub.quantity,
        to_quantity=seats,
    )


def interval_change_at_renewal(
    *, actor: Actor, organization: Organization, interval: str
) -> SubscriptionChange:
    _require(actor, organization, Capability.MANAGE_PLAN)
    if interval not in Interval.values:
        raise SubscriptionError("Choose monthly or yearly billing.")
    sub = Subscription.objects.filter(organization=organization).first()
    if sub is None or sub.has_ended:
        raise SubscriptionError("There is no active subscription.")
    target = "" if interval == sub.interval else interval
    if target == sub.scheduled_interval:
        raise SubscriptionError(f"Billing is already set to {Interval(interval).label.lower()}.")
    return _schedule(
        organization,
        actor,
        ChangeKind.INTERVAL_CHANGE_SCHEDULED if target else ChangeKind.SCHEDULE_CLEARED,
        lambda s: setattr(s, "scheduled_interval", target),
        from_interval=sub.interval,
        to_interval=interval,
    )


def plan_change(
    *,
    actor: Actor,
    organization: Organization,
    plan: str,
    proration_date: int | None = None,
    request_key: str = "",
    expected_cents: int | None = None,
) -> SubscriptionChange:
    """Upgrade at once (prorated, charged now); downgrade at the next renewal."""
    _require(actor, organization, Capability.MANAGE_PLAN)
    replayed = outcome_for(request_key)
    if replayed is not None:
        return replayed  # the same confirmation submitted twice
    sub = Subscription.objects.filter(organization=organization).first()
    if sub is None or sub.has_ended:
        raise SubscriptionError("There is no active subscription.")
    if plan == sub.plan:
        if sub.scheduled_plan:
            return _schedule(
                organization,
                actor,
                ChangeKind.SCHEDULE_CLEARED,
                lambda s: setattr(s, "scheduled_plan", ""),
                from_plan=sub.scheduled_plan,
                to_plan=plan,
            )
        raise SubscriptionError("You are on this plan already.")
    if is_upgrade(sub.plan, plan):
        return change_now(
            actor=actor,
            organization=organization,
            kind=ChangeKind.UPGRADED,
            add_seats=0,
            plan=plan,
            proration_date=proration_date,
            request_key=request_key,
            expected_cents=expected_cents,
        )
    return _schedule(
        organization,
        actor,
        ChangeKind.DOWNGRADE_SCHEDULED,
        lambda s: setattr(s, "scheduled_plan", plan),
        from_plan=sub.plan,
        to_plan=plan,
    )


# --- cancellation -------------------------------------------------------------------------------


def _set_cancel(
    organization: Organization, actor: Actor, *, cancel: bool, kind: str
) -> SubscriptionChange:
    with transaction.atomic():
        sub = _locked(organization)
        if sub.cancel_at_period_end == cancel:
            raise SubscriptionError(
                "The subscription already ends at the end of the period."
                if cancel
                else "The subscription is not being cancelled."
            )
        with gateway.stripe_errors(SubscriptionError):
            data = stripe_subscriptions.subscription_set_cancel_at_period_end(sub.stripe_id, cancel)
        before = snapshot(sub)
        mirror(sub, data)
        sub.save()
        change = record_change(
            sub, actor=actor, kind=kind, before=before, effective_at=sub.current_period_end
        )
    return change


def subscription_cancel(
    *, actor: Actor, organization: Organization, confirm_name: str
) -> SubscriptionChange:
    """End the subscription at the end of the paid period (undoable until then)."""
    _require(actor, organization, Capability.MANAGE_PLAN)
    if confirm_name.strip().casefold() != organization.name.strip().casefold():
        raise SubscriptionError(f"Type the organization's name, “{organization.name}”, to confirm.")
    return _set_cancel(organization, actor, cancel=True, kind=ChangeKind.CANCEL_SCHEDULED)


def subscription_cancel_undo(*, actor: Actor, organization: Organization) -> SubscriptionChange:
    _require(actor, organization, Capability.MANAGE_PLAN)
    return _set_cancel(organization, actor, cancel=False, kind=ChangeKind.CANCEL_UNDONE)


# --- the renewal --------------------------------------------------------------------------------

# Scheduled changes are sent to Stripe this long before the period ends: Stripe drafts the
# renewal invoice at the period's end, so it is then billed at the new quantity, plan and price.
RENEWAL_LEAD = timedelta(hours=1)


def scheduled_changes_apply(subscription_id: int, *, now: datetime | None = None) -> bool:
    """Send a subscription's scheduled changes to Stripe once its renewal is near.

    Stripe is called outside any transaction with absolute targets and a key per period, so a
    rerun (the beat task every 15 minutes, while the schedule is still set here) repeats the
    same call harmlessly; then the local apply runs in one short transaction. If that apply
    fails, the reconcile is enqueued and the next run finishes it.
    """
    now = now or timezone.now()
    sub = Subscription.objects.select_related("organization").get(pk=subscription_id)
    due = sub.current_period_end and now >= sub.current_period_end - RENEWAL_LEAD
    if not sub.has_scheduled_change or not due or sub.has_ended or sub.cancel_at_period_end:
        return False
    data = _stripe(sub)
    scheduled = (sub.scheduled_quantity, sub.scheduled_plan, sub.scheduled_interval)
    quantity = max(scheduled[0] or data.quantity, seat_usage(sub.organization).used)
    target = PlanPrice(scheduled[1] or sub.plan, scheduled[2] or sub.interval)
    with gateway.stripe_errors(SubscriptionError):
        updated = stripe_subscriptions.subscription_change_at_renewal(
            data,
            plan_id=target.stripe_id,
            quantity=quantity,
            idempotency_key=f"subscription-renewal-{sub.public_id}-{data.current_period_end}",
        )
    try:
        _scheduled_changes_record(subscription_id, scheduled, updated, quantity, target)
    except Exception:
        enqueue(RECONCILE_TASK)
        raise
    return True


def _scheduled_changes_record(
    subscription_id: int,
    scheduled: tuple,
    updated: stripe_subscriptions.SubscriptionData,
    quantity: int,
    target: PlanPrice,
) -> None:
    actor = Actor.system()
    with transaction.atomic():
        sub = Subscription.objects.select_for_update().get(pk=subscription_id)
        before = snapshot(sub)
        mirror(sub, updated)
        sub.scheduled_quantity, sub.scheduled_plan, sub.scheduled_interval = None, "", ""
        sub.save()
        if scheduled[0]:
            note = "" if quantity == scheduled[0] else f"Kept {quantity}: that many are in use."
            record_change(
                sub,
                actor=actor,
                kind=ChangeKind.SEATS_REMOVED,
                before=before,
                from_quantity=before["quantity"],
                to_quantity=quantity,
                note=note,
            )
        if scheduled[1]:
            record_change(
                sub,
                actor=actor,
                kind=ChangeKind.DOWNGRADED,
                before=before,
                from_plan=before["plan"],
                to_plan=target.plan,
            )
        if scheduled[2]:
            record_change(
                sub,
                actor=actor,
                kind=ChangeKind.INTERVAL_CHANGED,
                before=before,
                from_interval=before["interval"],
                to_interval=target.interval,
            )
        organization_plan_sync(sub)
