"""Every write to subscriptions: start, seats, billing frequency, plan, cancellation.

Each change is checked here (views are not trusted), runs in one transaction that also writes its
SubscriptionChange row and its audit event, and keeps Organization.seat_count/plan in step
(`organization_plan_sync`). Stripe calls that must not interleave (two admins adding seats at
once) run while the subscription row is locked, with a Stripe idempotency key per request: the
second admin waits, then adds on top of the first admin's seats. Stripe-driven state changes
(webhooks, the daily reconcile) live in `sync.py`.
"""

from dataclasses import dataclass
from datetime import UTC, datetime

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from audit.services import Actor, audit_record
from billing import services as billing_services
from billing import stripe_gateway as gateway
from billing.services import stripe_errors
from organizations.gate import gate_changed
from organizations.models import Membership, Organization
from organizations.permissions import Capability, role_can
from organizations.selectors import seat_usage

from .models import ChangeKind, PendingChange, Status, Subscription, SubscriptionChange
from .plans import PlanPrice, price_for_stripe_id

MAX_SEATS = 10_000
# A preview's proration date stays valid this long: confirming later asks for a fresh preview.
PREVIEW_VALID_SECONDS = 30 * 60


class SubscriptionError(Exception):
    """A rule or Stripe refused the change; the message is safe to show to the user."""


class AuthenticationRequired(Exception):  # noqa: N818 - a state, not a failure
    """The card holder must confirm the payment (3-D Secure); nothing has changed yet."""

    def __init__(self, pending: PendingChange) -> None:
        super().__init__("The payment needs authentication.")
        self.pending = pending


# --- helpers ------------------------------------------------------------------------------------


def _require(actor: Actor, organization: Organization, capability: Capability) -> None:
    if actor.user is None:
        return  # the system (webhooks, tasks, the demo) acts with full rights
    role = (
        Membership.objects.filter(organization=organization, user=actor.user)
        .values_list("role", flat=True)
        .first()
    )
    if role is None or not role_can(role, capability):
        raise PermissionDenied("Your role in this organization does not allow this.")


def ts(value: int | None) -> datetime | None:
    return datetime.fromtimestamp(value, tz=UTC) if value else None


def _locked(organization: Organization) -> Subscription:
    sub = Subscription.objects.select_for_update().filter(organization=organization).first()
    if sub is None or sub.has_ended:
        raise SubscriptionError("There is no active subscription; start one first.")
    return sub


def _stripe(sub: Subscription) -> gateway.SubscriptionData:
    with stripe_errors(SubscriptionError):
        return gateway.subscription_retrieve(sub.stripe_id)


MIRRORED = ("plan", "interval", "quantity", "status", "cancel_at_period_end")


def snapshot(sub: Subscription) -> dict:
    return {field: getattr(sub, field) for field in MIRRORED}


def mirror(sub: Subscription, data: gateway.SubscriptionData) -> None:
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
    """Seat limits and the plan badge follow the subscription (while it runs)."""
    if sub.has_ended:
        return  # data and the last seat count stay; seat-using actions are refused instead
    Organization.objects.filter(pk=sub.organization_id).update(
        seat_count=sub.quantity, plan=sub.plan
    )
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


def _validate_proration_date(sub: gateway.SubscriptionData, proration_date: int | None) -> int:
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


# --- starting ------------------------------------------------------------------------------------


def subscription_start(
    *,
    actor: Actor,
    organization: Organization,
    plan: str,
    interval: str,
    seats: int,
    request_key: str = "",
) -> Subscription:
    """Subscribe the organization, paid with its default card (the first invoice at once)."""
    _require(actor, organization, Capability.MANAGE_PLAN)
    price = PlanPrice(plan, interval)
    usage = seat_usage(organization)
    if not usage.used <= seats <= MAX_SEATS:
        raise SubscriptionError(
            f"Choose at least {usage.used} seats: {usage.members} members and "
            f"{usage.pending_invitations} pending invitations use a seat."
        )
    if billing_services.default_card(organization) is None:
        raise SubscriptionError("Add a card on the Billing tab first: seats are charged to it.")
    customer = billing_services.customer_ensure(organization)
    with transaction.atomic():
        organization = Organization.objects.select_for_update().get(pk=organization.pk)
        existing = Subscription.objects.select_for_update().filter(organization=organization)
        existing = existing.first()
        if existing is not None and not existing.has_ended:
            raise SubscriptionError("This organization already has a subscription.")
        with stripe_errors(SubscriptionError):
            data = gateway.subscription_create(
                customer_id=customer.stripe_id,
                plan_id=price.stripe_id,
                quantity=seats,
                metadata={"organization": organization.slug},
                idempotency_key=f"subscription-start-{organization.pk}-{request_key or seats}",
            )
        sub = existing or Subscription(organization=organization)
        before = snapshot(sub) if existing else None
        mirror(sub, data)
        sub.scheduled_quantity, sub.scheduled_interval, sub.scheduled_plan = None, "", ""
        sub.save()
        record_change(
            sub,
            actor=actor,
            kind=ChangeKind.SUBSCRIBED,
            before=before,
            from_quantity=0,
            to_quantity=seats,
            to_plan=plan,
            to_interval=interval,
            amount_cents=price.unit_amount * seats,
            stripe_ref=data.latest_invoice,
            request_key=request_key or None,
        )
        organization_plan_sync(sub)
    if data.status == Status.INCOMPLETE:
        raise SubscriptionError(
            "The first payment did not go through; the subscription waits for payment. "
            "Check the card on the Billing tab."
        )
    return sub


# --- previews -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChangePreview:
    """The cost of a change before it is confirmed (from Stripe's preview where it has one)."""

    proration_date: int
    lines: tuple[gateway.ProrationLine, ...]
    amount_cents: int
    from_quantity: int
    to_quantity: int
    plan: str
    interval: str
    unit_amount: int
    renewal_amount_cents: int
    period_end: datetime | None
    computed_locally: bool


def change_preview(
    organization: Organization, *, add_seats: int = 0, plan: str = ""
) -> ChangePreview:
    sub = Subscription.objects.filter(organization=organization).first()
    if sub is None or sub.has_ended:
        raise SubscriptionError("There is no active subscription.")
    data = _stripe(sub)
    target = PlanPrice(plan or sub.plan, sub.interval)
    quantity = data.quantity + add_seats
    if not 0 <= add_seats <= MAX_SEATS - data.quantity:
        raise SubscriptionError(f"Add between 1 and {MAX_SEATS - data.quantity} seats.")
    with stripe_errors(SubscriptionError):
        preview = gateway.subscription_proration_preview(
            data,
            plan_id=target.stripe_id,
            unit_amount=target.unit_amount,
            quantity=quantity,
            proration_date=int(timezone.now().timestamp()),
            labels=_labels(sub, target),
        )
    return ChangePreview(
        proration_date=preview.proration_date,
        lines=preview.lines,
        amount_cents=preview.amount,
        from_quantity=data.quantity,
        to_quantity=quantity,
        plan=target.plan,
        interval=target.interval,
        unit_amount=target.unit_amount,
        renewal_amount_cents=target.unit_amount * quantity,
        period_end=ts(data.current_period_end),
        computed_locally=preview.computed_locally,
    )


# --- changes at once ----------------------------------------------------------------------------


def _change_now(
    *,
    actor: Actor,
    organization: Organization,
    kind: str,
    add_seats: int,
    plan: str,
    proration_date: int | None,
    request_key: str,
) -> SubscriptionChange:
    card = billing_services.default_card(organization)
    if card is None:
        raise SubscriptionError("Add a card on the Billing tab first: the change is charged to it.")
    with transaction.atomic():
        sub = _locked(organization)
        replayed = _replay(request_key)
        if replayed is not None:
            return replayed  # the same confirmation submitted twice
        waiting = PendingChange.objects.filter(request_key=request_key, completed_at=None)
        if request_key and waiting.exists():
            pending = waiting.get()
            raise AuthenticationRequired(pending)  # resubmitted while the bank's check is open
        data = _stripe(sub)  # Stripe's quantity, read after any concurrent change committed
        target = PlanPrice(plan or sub.plan, sub.interval)
        quantity = data.quantity + add_seats
        with stripe_errors(SubscriptionError):
            result = gateway.subscription_change_now(
                data,
                plan_id=target.stripe_id,
                unit_amount=target.unit_amount,
                quantity=quantity,
                proration_date=_validate_proration_date(data, proration_date),
                payment_method_id=card.stripe_id,
                idempotency_key=f"subscription-change-{sub.public_id}-{request_key}",
                labels=_labels(sub, target),
            )
        if result.status == "requires_action":
            pending = PendingChange.objects.create(
                organization=organization,
                subscription=sub,
                kind=kind,
                add_seats=add_seats,
                plan=target.plan,
                amount_cents=result.amount,
                payment_intent_id=result.payment_intent,
                request_key=request_key or str(sub.public_id) + str(timezone.now().timestamp()),
                actor=actor.user,
            )
        elif result.status == "failed":
            raise SubscriptionError(
                f"The payment failed{': ' + result.failure_message if result.failure_message else ''}."
                " Nothing was changed."
            )
        else:
            change = _apply_change(
                sub,
                result,
                actor=actor,
                kind=kind,
                target=target,
                add_seats=add_seats,
                from_quantity=data.quantity,
                request_key=request_key,
            )
    if result.status == "requires_action":
        raise AuthenticationRequired(pending)
    return change


def _apply_change(
    sub: Subscription,
    result: gateway.ChangeResult,
    *,
    actor: Actor,
    kind: str,
    target: PlanPrice,
    add_seats: int,
    from_quantity: int,
    request_key: str,
) -> SubscriptionChange:
    """Mirror a paid change at once and write its history row (in the caller's transaction)."""
    quantity = from_quantity + add_seats
    before = snapshot(sub)
    mirror(sub, result.subscription)
    note = ""
    if kind == ChangeKind.SEATS_ADDED and sub.scheduled_quantity:
        note = f"Withdrew the scheduled decrease to {sub.scheduled_quantity} seats."
        sub.scheduled_quantity = None
    if kind == ChangeKind.UPGRADED:
        sub.scheduled_plan = ""
    sub.save()
    change = record_change(
        sub,
        actor=actor,
        kind=kind,
        before=before,
        from_quantity=from_quantity,
        to_quantity=quantity,
        from_plan=before["plan"],
        to_plan=target.plan,
        amount_cents=result.amount,
        stripe_ref=result.reference,
        request_key=request_key or None,
        note=note,
    )
    organization_plan_sync(sub)
    return change


def pending_change_for(organization: Organization, public_id: str) -> PendingChange | None:
    return PendingChange.objects.filter(organization=organization, public_id=public_id).first()


def payment_intent_for(pending: PendingChange) -> gateway.PaymentIntentData:
    with stripe_errors(SubscriptionError):
        return gateway.payment_intent_retrieve(pending.payment_intent_id)


def pending_change_complete(
    *, actor: Actor, organization: Organization, public_id: str
) -> SubscriptionChange:
    """After the card holder authenticated the payment: apply the change, once."""
    _require(actor, organization, Capability.ADD_SEATS)
    with transaction.atomic():
        sub = _locked(organization)
        pending = (
            PendingChange.objects.select_for_update()
            .filter(organization=organization, public_id=public_id)
            .first()
        )
        if pending is None:
            raise SubscriptionError("This payment is unknown.")
        if pending.kind == ChangeKind.UPGRADED:
            _require(actor, organization, Capability.MANAGE_PLAN)
        if pending.completed_at is not None and pending.change is not None:
            return pending.change  # confirmed twice (two tabs, a reload)
        data = _stripe(sub)
        target = PlanPrice(pending.plan, sub.interval)
        with stripe_errors(SubscriptionError):
            result = gateway.subscription_change_after_authentication(
                data,
                plan_id=target.stripe_id,
                quantity=data.quantity + pending.add_seats,
                payment_intent_id=pending.payment_intent_id,
                idempotency_key=f"subscription-change-{sub.public_id}-{pending.request_key}-done",
            )
        if result.status != "paid":
            raise SubscriptionError(
                "The payment is not confirmed yet."
                if result.status == "requires_action"
                else "The payment failed. Nothing was changed."
            )
        change = _apply_change(
            sub,
            gateway.ChangeResult(
                result.subscription, pending.amount_cents, pending.payment_intent_id, "paid"
            ),
            actor=actor,
            kind=pending.kind,
            target=target,
            add_seats=pending.add_seats,
            from_quantity=data.quantity,
            request_key=pending.request_key,
        )
        pending.completed_at = timezone.now()
        pending.change = change
        pending.save(update_fields=["completed_at", "change"])
    return change


def seats_add(
    *,
    actor: Actor,
    organization: Organization,
    seats: int,
    proration_date: int | None = None,
    request_key: str = "",
) -> SubscriptionChange:
    """Add seats at once; the prorated amount is invoiced and charged at once."""
    _require(actor, organization, Capability.ADD_SEATS)
    if not 1 <= seats <= MAX_SEATS:
        raise SubscriptionError("Add at least one seat.")
    return _change_now(
        actor=actor,
        organization=organization,
        kind=ChangeKind.SEATS_ADDED,
        add_seats=seats,
        plan="",
        proration_date=proration_date,
        request_key=request_key,
    )
