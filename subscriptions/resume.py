"""Finishing what a request left open: the resume task, the payment's webhook, the page after
the bank's check. Each entry point is idempotent: the Stripe calls repeat with the intent's
idempotency key (or set absolute targets), and the local apply happens once under a row lock.
"""

import contextlib
import logging

from django.utils import timezone

from audit.services import Actor
from billing import services as billing_services
from billing import stripe_gateway as gateway
from billing import stripe_subscriptions
from organizations.models import Organization
from organizations.permissions import Capability

from .intents import (
    APPLY_ATTEMPTS,
    AUTHENTICATION_WINDOW,
    RESUME_AFTER,
    AuthenticationRequired,
    ChangeInProgress,
    _after_start,
    _apply_or_defer,
    _fail,
    _outcome_of,
    _send_and_apply,
    _update,
)
from .models import OPEN_INTENT_STATES, ChangeIntent, ChangeKind, IntentState, SubscriptionChange
from .plans import PlanPrice
from .reversal import intent_reverse
from .services import SubscriptionError, _require

logger = logging.getLogger(__name__)


def intent_resume(intent_pk: int) -> str:
    """Move one open intent forward as far as it goes now; returns its state. Idempotent."""
    intent = ChangeIntent.objects.select_related("subscription").get(pk=intent_pk)
    if not intent.is_open:
        return intent.state
    try:
        if intent.state == IntentState.CREATED:
            _resume_created(intent)
        elif intent.state == IntentState.STRIPE_CALLED:
            _resume_stripe_called(intent)
        elif intent.state == IntentState.REQUIRES_ACTION:
            _resume_requires_action(intent)
        elif intent.state == IntentState.PAID:
            _resume_paid(intent)
    except (AuthenticationRequired, SubscriptionError):
        pass  # recorded on the intent; the next run looks again
    return ChangeIntent.objects.values_list("state", flat=True).get(pk=intent_pk)


def _resume_created(intent: ChangeIntent) -> None:
    """Recorded but never sent (the request died before calling Stripe): nothing was charged."""
    if timezone.now() - intent.updated_at >= RESUME_AFTER:
        _fail(intent, "The change was interrupted before it reached Stripe. Nothing was charged.")


def _resume_stripe_called(intent: ChangeIntent) -> None:
    if intent.kind == ChangeKind.SUBSCRIBED:
        _resume_start_called(intent)
        return
    data = stripe_subscriptions.subscription_retrieve(intent.subscription.stripe_id)
    card = billing_services.default_card(intent.organization)
    with contextlib.suppress(ChangeInProgress):
        _send_and_apply(intent, data, card.stripe_id if card else "")


def _resume_requires_action(intent: ChangeIntent) -> None:
    payment = gateway.payment_intent_retrieve(intent.payment_intent_id)
    if payment.status == "succeeded":
        _complete_after_authentication(intent)
    elif payment.status in ("requires_payment_method", "canceled"):
        _fail(
            intent, payment.failure_message or "The payment was not confirmed. Nothing was changed."
        )
    elif timezone.now() - intent.created_at >= AUTHENTICATION_WINDOW:
        gateway.payment_intent_cancel(intent.payment_intent_id)
        _fail(intent, "The bank's confirmation was never completed. Nothing was charged.")


def _complete_after_authentication(intent: ChangeIntent) -> SubscriptionChange:
    if intent.kind == ChangeKind.SUBSCRIBED:
        data = stripe_subscriptions.subscription_retrieve(intent.stripe_ref)
        _update(intent, state=IntentState.PAID)
        return _apply_or_defer(intent, data)
    data = stripe_subscriptions.subscription_retrieve(intent.subscription.stripe_id)
    result = stripe_subscriptions.subscription_change_after_authentication(
        data,
        plan_id=PlanPrice(intent.plan, intent.interval).stripe_id,
        quantity=intent.to_quantity,  # absolute, so repeating it changes nothing more
        payment_intent_id=intent.payment_intent_id,
        idempotency_key=f"{intent.idempotency_key}-done",
    )
    if result.status != "paid":
        raise SubscriptionError("The payment is not confirmed yet.")
    _update(intent, state=IntentState.PAID)
    return _apply_or_defer(intent, result.subscription)


def _resume_paid(intent: ChangeIntent) -> None:
    stripe_id = intent.subscription.stripe_id if intent.subscription else intent.stripe_ref
    data = stripe_subscriptions.subscription_retrieve(stripe_id)
    if intent.attempts >= APPLY_ATTEMPTS:
        intent_reverse(intent, data)
        return
    try:
        _apply_or_defer(intent, data)
    except ChangeInProgress:
        if intent.attempts >= APPLY_ATTEMPTS:
            intent_reverse(intent, data)


def intents_due() -> list[int]:
    """Open intents no request is working on any more (the beat task resumes them)."""
    quiet_since = timezone.now() - RESUME_AFTER
    return list(
        ChangeIntent.objects.filter(state__in=OPEN_INTENT_STATES, updated_at__lte=quiet_since)
        .order_by("created_at")
        .values_list("pk", flat=True)
    )


# --- handlers of Stripe events (stripe_events.handlers) -----------------------------------------


def payment_intent_sync(payment_intent_id: str) -> None:
    """payment_intent.succeeded/payment_failed: finish the change this payment was for."""
    for pk in ChangeIntent.objects.filter(
        payment_intent_id=payment_intent_id, state__in=OPEN_INTENT_STATES
    ).values_list("pk", flat=True):
        intent_resume(pk)


def invoice_paid(invoice_id: str) -> None:
    """invoice.paid (real Stripe): the invoice of a change or of a subscription's first period."""
    for pk in ChangeIntent.objects.filter(
        stripe_ref=invoice_id, state__in=OPEN_INTENT_STATES
    ).values_list("pk", flat=True):
        intent_resume(pk)


# --- the page after the bank's check ------------------------------------------------------------


def intent_for(organization: Organization, public_id: str) -> ChangeIntent | None:
    return ChangeIntent.objects.filter(organization=organization, public_id=public_id).first()


def payment_intent_for(intent: ChangeIntent) -> gateway.PaymentIntentData:
    with gateway.stripe_errors(SubscriptionError):
        return gateway.payment_intent_retrieve(intent.payment_intent_id)


def intent_complete(
    *, actor: Actor, organization: Organization, public_id: str
) -> SubscriptionChange:
    """After the card holder authenticated the payment: apply the change, once."""
    _require(actor, organization, Capability.ADD_SEATS)
    intent = intent_for(organization, public_id)
    if intent is None:
        raise SubscriptionError("This payment is unknown.")
    if intent.kind in (ChangeKind.UPGRADED, ChangeKind.SUBSCRIBED):
        _require(actor, organization, Capability.MANAGE_PLAN)
    if intent.state == IntentState.REQUIRES_ACTION:
        payment = payment_intent_for(intent)
        if payment.status == "requires_action":
            raise SubscriptionError("The payment is not confirmed yet.")
        with gateway.stripe_errors(SubscriptionError):
            _resume_requires_action(intent)
        intent.refresh_from_db()
    elif intent.state == IntentState.PAID:
        with gateway.stripe_errors(SubscriptionError):
            _resume_paid(intent)
        intent.refresh_from_db()
    return _outcome_of(intent)


def _resume_start_called(intent: ChangeIntent) -> None:
    """Find the subscription the interrupted start created in Stripe (by its intent's id)."""
    customer = billing_services.customer_ensure(intent.organization)
    for data in stripe_subscriptions.subscriptions_for_customer(customer.stripe_id):
        if data.metadata.get("change_intent") == str(intent.public_id):
            with contextlib.suppress(AuthenticationRequired, SubscriptionError):
                _after_start(intent, data)
            return
    if timezone.now() - intent.updated_at >= RESUME_AFTER:
        _fail(intent, "The start was interrupted before Stripe recorded it. Nothing was charged.")
