"""Every write to subscriptions: start, seats, billing frequency, plan, cancellation.

Shared helpers (mirror Stripe's state, record a change with its audit event, keep
Organization.seat_count/plan in step) and the cost preview. Changes at once (start, seats,
upgrade) are recorded intents (`intents.py`, finished by `resume.py`); changes at the renewal live
in `renewal.py`; Stripe-driven state changes (webhooks, the reconcile) in `sync.py`.
"""

from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from audit.services import Actor, audit_record
from billing import stripe_gateway as gateway
from billing import stripe_subscriptions
from kilo_dashboard.jobs import enqueue
from organizations.gate import gate_changed
from organizations.models import Organization
from organizations.permissions import Capability, role_can
from organizations.selectors import membership_role

from .models import Status, Subscription, SubscriptionChange
from .plans import PlanPrice, is_upgrade, price_for_stripe_id

MAX_SEATS = 10_000
# A preview's proration date stays valid this long: confirming later asks for a fresh preview.
PREVIEW_VALID_SECONDS = 30 * 60
RECONCILE_TASK = "subscriptions.tasks.reconcile_subscriptions"


class SubscriptionError(Exception):
    """A rule or Stripe refused the change; the message is safe to show to the user."""


# --- helpers ------------------------------------------------------------------------------------


def _require(actor: Actor, organization: Organization, capability: Capability) -> None:
    if actor.user is None:
        return  # the system (webhooks, tasks, the demo) acts with full rights
    role = membership_role(organization, actor.user)
    if role is None or not role_can(role, capability):
        raise PermissionDenied("Your role in this organization does not allow this.")


def ts(value: int | None) -> datetime | None:
    return datetime.fromtimestamp(value, tz=UTC) if value else None


def _locked(organization: Organization) -> Subscription:
    sub = Subscription.objects.select_for_update().filter(organization=organization).first()
    if sub is None or sub.has_ended:
        raise SubscriptionError("There is no active subscription; start one first.")
    return sub


def _stripe(sub: Subscription) -> stripe_subscriptions.SubscriptionData:
    with gateway.stripe_errors(SubscriptionError):
        return stripe_subscriptions.subscription_retrieve(sub.stripe_id)


MIRRORED = ("plan", "interval", "quantity", "status", "cancel_at_period_end")


def snapshot(sub: Subscription) -> dict:
    return {field: getattr(sub, field) for field in MIRRORED}


def mirror(sub: Subscription, data: stripe_subscriptions.SubscriptionData) -> None:
    """Copy Stripe's state onto the local row (not saved)."""
    price = price_for_stripe_id(data.plan_id)
    if price is not None:
        sub.plan, sub.interval = price.plan, price.interval
    sub.stripe_id = data.id
    sub.stripe_item_id = data.item_id
    sub.quantity = data.quantity
    sub.status = data.status
    sub.current_period_start = ts(data.current_period_start)
    sub.current_period_end = ts(data.current_period_end)
    sub.cancel_at_period_end = data.cancel_at_period_end
    sub.canceled_at = ts(data.canceled_at)
    sub.ended_at = ts(data.ended_at)
    sub.synced_at = timezone.now()


def organization_plan_sync(sub: Subscription) -> None:
    """Seat limits and the plan badge follow the subscription, and only a paid one.

    An unpaid start ("incomplete") grants nothing; an ended subscription returns the
    organization to the free default. Members above the limit keep their access; new seats
    (invitations, SSO joins) are refused by the organization's own seat check.
    """
    if sub.status == Status.INCOMPLETE:
        return
    if sub.has_ended:
        seats, plan = settings.NEW_ORGANIZATION_SEATS, Organization._meta.get_field("plan").default
    else:
        seats, plan = sub.quantity, sub.plan
    Organization.objects.filter(pk=sub.organization_id).update(seat_count=seats, plan=plan)
    gate_changed(sub.organization_id)  # seats and plan decide what the gateway allows


def record_change(
    sub: Subscription, *, actor: Actor, kind: str, before: dict | None = None, **fields: object
) -> SubscriptionChange:
    """One history row and its audit event, in the caller's transaction."""
    now = timezone.now()
    change = SubscriptionChange.objects.create(
        organization_id=sub.organization_id,
        subscription=sub,
        kind=kind,
        actor=actor.user,
        actor_email=actor.email,
        effective_at=fields.pop("effective_at", None) or now,
        created_at=now,
        **fields,
    )
    audit_record(
        actor=actor,
        action=f"subscription.{kind}",
        organization=sub.organization,
        target=sub,
        target_label=f"{sub.get_plan_display()} subscription",
        before=before,
        after={
            **snapshot(sub),
            "amount_cents": change.amount_cents,
            **({"note": change.note} if change.note else {}),
        },
    )
    return change


def _validate_proration_date(
    sub: stripe_subscriptions.SubscriptionData, proration_date: int | None
) -> int:
    now = int(timezone.now().timestamp())
    if proration_date is None:
        return now
    start = sub.current_period_start or 0
    if not (max(start, now - PREVIEW_VALID_SECONDS) <= proration_date <= now):
        raise SubscriptionError("The price shown has expired. Review the change again.")
    return proration_date


def _labels(sub: Subscription, target: PlanPrice) -> tuple[str, str]:
    return PlanPrice(sub.plan, sub.interval).label, target.label


def _replay(request_key: str) -> SubscriptionChange | None:
    return (
        SubscriptionChange.objects.filter(request_key=request_key).first() if request_key else None
    )


# --- previews -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChangePreview:
    """The cost of a change before it is confirmed (from Stripe's preview where it has one)."""

    proration_date: int
    lines: tuple[stripe_subscriptions.ProrationLine, ...]
    amount_cents: int
    from_quantity: int
    to_quantity: int
    plan: str
    interval: str
    unit_amount: int
    renewal_amount_cents: int
    period_end: datetime | None
    computed_locally: bool


@dataclass(frozen=True)
class Proration:
    """A change priced from one copy of Stripe's subscription: the preview shows it, the charge
    repeats it with the same proration date, so the two cannot differ."""

    data: stripe_subscriptions.SubscriptionData
    current: PlanPrice
    target: PlanPrice
    quantity: int
    preview: stripe_subscriptions.ProrationPreview


def proration_for(
    data: stripe_subscriptions.SubscriptionData, *, add_seats: int, plan: str, proration_date: int
) -> Proration:
    """Price adding `add_seats` and/or moving to `plan`, from Stripe's state (never the local
    row, which may have drifted). Raises SubscriptionError with a message for the user."""
    current = price_for_stripe_id(data.plan_id)
    if current is None or data.status in (Status.CANCELED, Status.INCOMPLETE_EXPIRED):
        raise SubscriptionError("The subscription in Stripe is not one that can be changed here.")
    target = PlanPrice(plan or current.plan, current.interval)
    if plan and plan != current.plan and not is_upgrade(current.plan, plan):
        raise SubscriptionError("Only upgrades are made at once; downgrades wait for the renewal.")
    if not 0 <= add_seats <= MAX_SEATS - data.quantity:
        raise SubscriptionError(f"Add between 1 and {MAX_SEATS - data.quantity} seats.")
    quantity = data.quantity + add_seats
    with gateway.stripe_errors(SubscriptionError):
        preview = stripe_subscriptions.subscription_proration_preview(
            data,
            plan_id=target.stripe_id,
            unit_amount=target.unit_amount,
            quantity=quantity,
            proration_date=proration_date,
            labels=(current.label, target.label),
        )
    if add_seats and preview.amount < 0:
        # Adding seats never credits money: a negative amount means Stripe's subscription is not
        # what it should be. Nothing is charged; the reconcile compares and repairs.
        enqueue(RECONCILE_TASK)
        raise SubscriptionError(
            "The subscription changed in Stripe since this page was loaded; it is being "
            "re-synced. Review the change again in a minute."
        )
    return Proration(data, current, target, quantity, preview)


def change_preview(
    organization: Organization, *, add_seats: int = 0, plan: str = ""
) -> ChangePreview:
    sub = Subscription.objects.filter(organization=organization).first()
    if sub is None or sub.has_ended:
        raise SubscriptionError("There is no active subscription.")
    priced = proration_for(
        _stripe(sub),
        add_seats=add_seats,
        plan=plan,
        proration_date=int(timezone.now().timestamp()),
    )
    return ChangePreview(
        proration_date=priced.preview.proration_date,
        lines=priced.preview.lines,
        amount_cents=priced.preview.amount,
        from_quantity=priced.data.quantity,
        to_quantity=priced.quantity,
        plan=priced.target.plan,
        interval=priced.target.interval,
        unit_amount=priced.target.unit_amount,
        renewal_amount_cents=priced.target.unit_amount * priced.quantity,
        period_end=ts(priced.data.current_period_end),
        computed_locally=priced.preview.computed_locally,
    )
