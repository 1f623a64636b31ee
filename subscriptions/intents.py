"""Changes made at once (start, seats added, upgrade) as recorded intents.

The order never changes: (1) write the ChangeIntent and commit; (2) call Stripe outside any
transaction, with an idempotency key derived from the intent, and commit its answer; (3) apply the
change locally in one short transaction (history row, audit event, seat limit). A crash or an
error at any point leaves an open intent that `intent_resume` (the beat task every few minutes,
and the payment's webhook) finishes: it repeats the Stripe call with the same key, applies a paid
change exactly once, and after APPLY_ATTEMPTS failed applies reverses it (refund, Stripe back to
the previous plan and quantity) or, when even that fails, flags it for an operator. No path
leaves money taken and nothing delivered.
"""

import logging
import time
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.services import Actor
from billing import services as billing_services
from billing import stripe_gateway as gateway
from billing import stripe_subscriptions
from billing.seat_charges import seat_charge_record
from kilo_dashboard.jobs import enqueue
from organizations.models import Organization
from organizations.permissions import Capability
from organizations.selectors import seat_usage

from .models import (
    OPEN_INTENT_STATES,
    ChangeIntent,
    ChangeKind,
    IntentState,
    Status,
    Subscription,
    SubscriptionChange,
)
from .plans import PlanPrice
from .reversal import intent_metadata, intent_reverse
from .services import (
    MAX_SEATS,
    RECONCILE_TASK,
    SubscriptionError,
    _require,
    _validate_proration_date,
    mirror,
    organization_plan_sync,
    proration_for,
    record_change,
    snapshot,
)

logger = logging.getLogger(__name__)

APPLY_ATTEMPTS = 3  # failed local applies of a paid change before it is reversed
# Stripe drops a pending update whose payment was not authenticated within 23 hours.
AUTHENTICATION_WINDOW = timedelta(hours=23)
# An intent younger than this may still be in the hands of the request that made it.
RESUME_AFTER = timedelta(minutes=2)


class AuthenticationRequired(Exception):  # noqa: N818 - a state, not a failure
    """The card holder must confirm the payment (3-D Secure); nothing has changed yet."""

    def __init__(self, intent: ChangeIntent) -> None:
        super().__init__("The payment needs authentication.")
        self.intent = intent


class StartSuperseded(Exception):  # noqa: N818 - a state, not a failure
    """A start paid in Stripe while the organization already runs another subscription."""


class ChangeInProgress(SubscriptionError):
    """Paid, but not applied here yet: a task finishes it (or refunds it) within minutes."""


# --- recording ----------------------------------------------------------------------------------


def _update(intent: ChangeIntent, **fields: object) -> None:
    """Commit the intent's new state at once (each step survives what comes after it)."""
    for name, value in fields.items():
        setattr(intent, name, value)
    ChangeIntent.objects.filter(pk=intent.pk).update(updated_at=timezone.now(), **fields)


def _outcome_of(intent: ChangeIntent) -> SubscriptionChange:
    """What a resubmitted confirmation sees: the same outcome, never a second charge."""
    if intent.state == IntentState.APPLIED and intent.change is not None:
        return intent.change
    if intent.state == IntentState.REQUIRES_ACTION:
        raise AuthenticationRequired(intent)
    if intent.state == IntentState.FAILED:
        raise SubscriptionError(intent.last_error or "The change failed. Nothing was charged.")
    if intent.state in (IntentState.REVERSED, IntentState.NEEDS_ATTENTION):
        raise SubscriptionError(
            "This change could not be completed; the payment was refunded or is being refunded."
        )
    raise ChangeInProgress("This change is being completed; it shows here in a few minutes.")


def outcome_for(request_key: str) -> SubscriptionChange | None:
    """A confirmation seen before: its outcome (raises as it did), or None when it is new."""
    earlier = ChangeIntent.objects.filter(request_key=request_key).first() if request_key else None
    return _outcome_of(earlier) if earlier is not None else None


def _refuse_while_open(organization: Organization) -> None:
    waiting = ChangeIntent.objects.filter(organization=organization, state__in=OPEN_INTENT_STATES)
    waiting = waiting.first()
    if waiting is None:
        return
    if waiting.state == IntentState.REQUIRES_ACTION:
        raise SubscriptionError(
            "An earlier change awaits your bank's confirmation: finish or abandon it first "
            "(an abandoned one expires within a day)."
        )
    raise ChangeInProgress("Another change is being completed; try again in a minute.")


# A second admin's change waits this long for one in flight (not one awaiting the bank), then
# builds on its result, as with the row lock this replaces.
WAIT_FOR_OTHER_SECONDS = 20


def _record(organization: Organization, actor: Actor, **fields: object) -> ChangeIntent:
    deadline = time.monotonic() + WAIT_FOR_OTHER_SECONDS
    while True:
        try:
            return _record_once(organization, actor, **fields)
        except ChangeInProgress:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.2)  # another change is in flight: wait for it, then build on it


def _record_once(organization: Organization, actor: Actor, **fields: object) -> ChangeIntent:
    try:
        with transaction.atomic():
            Organization.objects.select_for_update().filter(pk=organization.pk).first()
            _refuse_while_open(organization)
            if fields.get("kind") == ChangeKind.SUBSCRIBED:
                # Checked again under the lock: a start in another tab may have finished while
                # this one waited for it.
                _refuse_if_subscribed(organization)
            return ChangeIntent.objects.create(
                organization=organization, actor=actor.user, actor_email=actor.email, **fields
            )
    except IntegrityError as error:  # a concurrent request opened one between check and insert
        raise ChangeInProgress(
            "Another change is being completed; try again in a minute."
        ) from error


def _refuse_if_subscribed(organization: Organization) -> None:
    existing = Subscription.objects.filter(organization=organization).first()
    if existing is not None and not existing.has_ended and existing.status != Status.INCOMPLETE:
        raise SubscriptionError("This organization already has a subscription.")


def _fail(intent: ChangeIntent, message: str, *, reconcile: bool = False) -> SubscriptionError:
    _update(intent, state=IntentState.FAILED, last_error=message, completed_at=timezone.now())
    if reconcile:
        # Stripe and the dashboard may disagree (that is how this change could fail): compare now.
        enqueue(RECONCILE_TASK)
    return SubscriptionError(message)


# --- changes at once (seats added, upgrade) -----------------------------------------------------


def change_now(
    *,
    actor: Actor,
    organization: Organization,
    kind: str,
    add_seats: int,
    plan: str,
    proration_date: int | None,
    request_key: str,
    expected_cents: int | None = None,
) -> SubscriptionChange:
    card = billing_services.default_card(organization)
    if card is None:
        raise SubscriptionError("Add a card on the Billing tab first: the change is charged to it.")
    sub = Subscription.objects.filter(organization=organization).first()
    if sub is None or sub.has_ended:
        raise SubscriptionError("There is no active subscription; start one first.")
    if request_key:
        earlier = ChangeIntent.objects.filter(request_key=request_key).first()
        if earlier is not None:
            return _outcome_of(earlier)  # the same confirmation submitted twice
    intent = _record(
        organization,
        actor,
        subscription=sub,
        kind=kind,
        add_seats=add_seats,
        to_quantity=0,  # set from Stripe's state below, once no other change can run
        plan=plan or sub.plan,
        interval=sub.interval,
        request_key=request_key or None,
    )
    # One source of truth: the preview and the charge both come from this fresh copy of Stripe's
    # subscription, never from the local row (which may have drifted).
    with gateway.stripe_errors(SubscriptionError):
        try:
            data = stripe_subscriptions.subscription_retrieve(sub.stripe_id)
        except gateway.GatewayError as error:
            raise _fail(intent, error.message) from error
    try:
        priced = proration_for(
            data,
            add_seats=add_seats,
            plan=plan,
            proration_date=_validate_proration_date(data, proration_date),
        )
    except SubscriptionError as error:
        raise _fail(intent, str(error)) from error
    if expected_cents is not None and priced.preview.amount != expected_cents:
        raise _fail(intent, "The price has changed since it was shown. Review the change again.")
    current, target, preview = priced.current, priced.target, priced.preview
    _update(
        intent,
        from_quantity=data.quantity,
        to_quantity=data.quantity + add_seats,
        from_plan=current.plan,
        plan=target.plan,
        from_interval=current.interval,
        interval=target.interval,
        proration_date=proration_date,
        amount_cents=preview.amount,
        lines=[
            {"description": line.description, "amount_cents": line.amount} for line in preview.lines
        ],
    )
    return _send_and_apply(intent, data, card.stripe_id)


def _send_and_apply(
    intent: ChangeIntent, data: stripe_subscriptions.SubscriptionData, payment_method_id: str
) -> SubscriptionChange:
    target = PlanPrice(intent.plan, intent.interval)
    _update(intent, state=IntentState.STRIPE_CALLED)
    try:
        result = stripe_subscriptions.subscription_change_now(
            data,
            plan_id=target.stripe_id,
            unit_amount=target.unit_amount,
            quantity=intent.to_quantity,
            proration_date=intent.proration_date or int(timezone.now().timestamp()),
            payment_method_id=payment_method_id,
            idempotency_key=intent.idempotency_key,
            labels=(PlanPrice(intent.from_plan, intent.from_interval).label, target.label),
            amount_cents=intent.amount_cents,  # what was shown and confirmed, never recomputed
            metadata=intent_metadata(intent),
        )
    except gateway.GatewayError as error:
        if error.transient:
            # Unknown whether Stripe made the change: the resume task repeats the same call (same
            # idempotency key) and finishes or fails it.
            raise ChangeInProgress(
                "Stripe could not be reached. The change is retried automatically in a few "
                "minutes; nothing is charged twice."
            ) from error
        raise _fail(intent, f"{error.message} Nothing was changed.", reconcile=True) from error
    return _after_stripe(intent, result)


def _after_stripe(
    intent: ChangeIntent, result: stripe_subscriptions.ChangeResult
) -> SubscriptionChange:
    fields = {
        "payment_intent_id": result.payment_intent or intent.payment_intent_id,
        "stripe_ref": result.reference,
        "amount_cents": result.amount,
    }
    if result.status == "requires_action":
        _update(intent, state=IntentState.REQUIRES_ACTION, **fields)
        raise AuthenticationRequired(intent)
    if result.status == "failed":
        reason = f": {result.failure_message}" if result.failure_message else ""
        raise _fail(intent, f"The payment failed{reason}. Nothing was changed.", reconcile=True)
    _update(intent, state=IntentState.PAID, **fields)
    return _apply_or_defer(intent, result.subscription)


# --- starting a subscription --------------------------------------------------------------------


def subscription_start(
    *,
    actor: Actor,
    organization: Organization,
    plan: str,
    interval: str,
    seats: int,
    request_key: str = "",
) -> Subscription:
    """Subscribe the organization, paid with its default card (the first invoice at once).

    Seats are granted only once the first invoice is paid: a declined card starts nothing, and a
    card that needs the bank's check (3-D Secure) raises AuthenticationRequired for the page.
    """
    _require(actor, organization, Capability.MANAGE_PLAN)
    price = PlanPrice(plan, interval)
    usage = seat_usage(organization)
    if not usage.used <= seats <= MAX_SEATS:
        raise SubscriptionError(
            f"Choose at least {usage.used} seats: {usage.members} members and "
            f"{usage.pending_invitations} pending invitations use a seat."
        )
    if request_key:
        earlier = ChangeIntent.objects.filter(request_key=request_key).first()
        if earlier is not None:
            return _outcome_of(earlier).subscription
    card = billing_services.default_card(organization)
    if card is None:
        raise SubscriptionError("Add a card on the Billing tab first: seats are charged to it.")
    _refuse_if_subscribed(organization)
    existing = Subscription.objects.filter(organization=organization).first()
    customer = billing_services.customer_ensure(organization)
    intent = _record(
        organization,
        actor,
        kind=ChangeKind.SUBSCRIBED,
        to_quantity=seats,
        plan=plan,
        interval=interval,
        amount_cents=price.unit_amount * seats,
        lines=[
            {
                "description": f"{seats} × {price.label}, first {price.interval}",
                "amount_cents": price.unit_amount * seats,
            }
        ],
        request_key=request_key or None,
    )
    if existing is not None and existing.status == Status.INCOMPLETE:
        # An unpaid start left behind (its bank check abandoned): end it before starting anew.
        with gateway.stripe_errors(SubscriptionError):
            stripe_subscriptions.subscription_cancel_now(existing.stripe_id)
    _update(intent, state=IntentState.STRIPE_CALLED)
    try:
        data = stripe_subscriptions.subscription_create(
            customer_id=customer.stripe_id,
            plan_id=price.stripe_id,
            quantity=seats,
            metadata={"organization": organization.slug, **intent_metadata(intent)},
            idempotency_key=intent.idempotency_key,
        )
    except gateway.GatewayError as error:
        if error.transient:
            raise ChangeInProgress(
                "Stripe could not be reached. The start is retried automatically in a few "
                "minutes; nothing is charged twice."
            ) from error
        raise _fail(intent, f"{error.message} No subscription was started.") from error
    return _after_start(intent, data).subscription


def _after_start(
    intent: ChangeIntent, data: stripe_subscriptions.SubscriptionData
) -> SubscriptionChange:
    _update(intent, stripe_ref=data.id)
    payment = stripe_subscriptions.invoice_payment_intent(data.latest_invoice)
    if data.status in (Status.ACTIVE, Status.TRIALING):
        _update(intent, state=IntentState.PAID, payment_intent_id=payment.id if payment else "")
        return _apply_or_defer(intent, data)
    if payment is not None and payment.status == "requires_action":
        _mirror_unpaid(intent, data)
        _update(intent, state=IntentState.REQUIRES_ACTION, payment_intent_id=payment.id)
        raise AuthenticationRequired(intent)
    # Declined: end the unpaid subscription at once, so that the owner can retry with a card
    # that works (Stripe would otherwise hold it "incomplete" for a day).
    stripe_subscriptions.subscription_cancel_now(data.id)
    reason = (payment.failure_message if payment else "") or "The card was declined."
    raise _fail(intent, f"The first payment failed: {reason} No subscription was started.")


def _mirror_unpaid(intent: ChangeIntent, data: stripe_subscriptions.SubscriptionData) -> None:
    """Keep the unpaid subscription's row (status "Awaiting payment"): it grants no seat."""
    with transaction.atomic():
        sub = Subscription.objects.select_for_update().filter(organization=intent.organization_id)
        sub = sub.first() or Subscription(organization_id=intent.organization_id)
        if sub.pk and sub.is_live and sub.status != Status.INCOMPLETE:
            return  # never over a running subscription (the start is reversed once paid)
        mirror(sub, data)
        sub.save()
        ChangeIntent.objects.filter(pk=intent.pk).update(subscription=sub)
    intent.subscription = sub


# --- applying locally ---------------------------------------------------------------------------


def _apply_locally(
    intent: ChangeIntent, data: stripe_subscriptions.SubscriptionData
) -> SubscriptionChange:
    """Mirror the paid change and write its history row, exactly once (in one transaction)."""
    with transaction.atomic():
        locked = ChangeIntent.objects.select_for_update().get(pk=intent.pk)
        if locked.state == IntentState.APPLIED:
            return locked.change
        sub = Subscription.objects.select_for_update().filter(organization=intent.organization_id)
        sub = sub.first() or Subscription(organization_id=intent.organization_id)
        is_start = intent.kind == ChangeKind.SUBSCRIBED
        live = sub.pk and sub.is_live and sub.status != Status.INCOMPLETE
        if is_start and live and sub.stripe_id != data.id:
            # One live subscription per organization, whatever path got here: a second start
            # is never mirrored over the first (it is canceled and refunded instead).
            raise StartSuperseded(sub.stripe_id)
        before = snapshot(sub) if sub.pk and not is_start else None
        mirror(sub, data)
        note = ""
        if intent.kind == ChangeKind.SEATS_ADDED and sub.scheduled_quantity:
            note = f"Withdrew the scheduled decrease to {sub.scheduled_quantity} seats."
            sub.scheduled_quantity = None
        if intent.kind == ChangeKind.UPGRADED:
            sub.scheduled_plan = ""
        if is_start:
            sub.scheduled_quantity, sub.scheduled_interval, sub.scheduled_plan = None, "", ""
        sub.save()
        change = record_change(
            sub,
            actor=Actor(user=locked.actor),  # who asked for it, also when a task finishes it
            kind=intent.kind,
            before=before,
            from_quantity=intent.from_quantity,
            to_quantity=intent.to_quantity,
            from_plan=intent.from_plan,
            to_plan=intent.plan,
            from_interval=intent.from_interval if is_start else "",
            to_interval=intent.interval if is_start else "",
            amount_cents=intent.amount_cents,
            stripe_ref=intent.stripe_ref or intent.payment_intent_id,
            request_key=intent.request_key,
            note=note,
        )
        organization_plan_sync(sub)
        _seat_charge_record(intent, locked, change, data)
        ChangeIntent.objects.filter(pk=intent.pk).update(
            state=IntentState.APPLIED,
            subscription=sub,
            change=change,
            completed_at=timezone.now(),
            updated_at=timezone.now(),
        )
    intent.state, intent.change = IntentState.APPLIED, change
    return change


def _seat_charge_record(
    intent: ChangeIntent,
    locked: ChangeIntent,
    change: SubscriptionChange,
    data: stripe_subscriptions.SubscriptionData,
) -> None:
    """Every charge gets its receipt, in the transaction that delivers what it paid for."""
    if intent.amount_cents <= 0:
        return
    lines = intent.lines or [{"description": change.detail, "amount_cents": intent.amount_cents}]
    if sum(line["amount_cents"] for line in lines) != intent.amount_cents:
        lines = [{"description": change.detail, "amount_cents": intent.amount_cents}]
    seat_charge_record(
        organization=intent.organization,
        stripe_ref=(data.latest_invoice if intent.kind == ChangeKind.SUBSCRIBED else "")
        or intent.stripe_ref
        or intent.payment_intent_id
        or str(intent.public_id),
        description=f"{change.get_kind_display()}: {change.detail}",
        lines=lines,
        amount_cents=intent.amount_cents,
        charged_at=change.created_at,
        created_by=locked.actor,
    )


def _apply_or_defer(
    intent: ChangeIntent, data: stripe_subscriptions.SubscriptionData
) -> SubscriptionChange:
    try:
        return _apply_locally(intent, data)
    except StartSuperseded as error:
        _update(intent, last_error=f"The organization already runs {error}.")
        intent_reverse(intent, data)
        raise SubscriptionError(
            "This organization already has a subscription: this second start was canceled and "
            "its payment refunded."
        ) from error
    except Exception as error:
        logger.exception("Applying paid change %s failed", intent.public_id)
        _update(intent, attempts=intent.attempts + 1, last_error=f"{type(error).__name__}: {error}")
        enqueue(RECONCILE_TASK)
        raise ChangeInProgress(
            "The payment went through; the change is being completed and shows here within a "
            "few minutes (or the payment is refunded)."
        ) from error


# --- seats ---------------------------------------------------------------------------------------


def seats_add(
    *,
    actor: Actor,
    organization: Organization,
    seats: int,
    proration_date: int | None = None,
    request_key: str = "",
    expected_cents: int | None = None,
) -> SubscriptionChange:
    """Add seats at once; the prorated amount is invoiced and charged at once."""
    _require(actor, organization, Capability.ADD_SEATS)
    if not 1 <= seats <= MAX_SEATS:
        raise SubscriptionError("Add at least one seat.")
    return change_now(
        actor=actor,
        organization=organization,
        kind=ChangeKind.SEATS_ADDED,
        add_seats=seats,
        plan="",
        proration_date=proration_date,
        request_key=request_key,
        expected_cents=expected_cents,
    )
