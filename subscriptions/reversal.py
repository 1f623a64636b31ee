"""Reversing a paid change that cannot be delivered: give back everything Stripe captured for it.

What was captured is looked up in Stripe, never taken from a local field: every PaymentIntent of
the customer whose metadata names the intent (the proration charges we make), the first invoice's
payment of a subscription whose metadata names it (a start), and the payment recorded on the
intent. Each is refunded down to nothing left (a rerun refunds nothing more), then Stripe is put
back: a start's subscription is canceled, a change is set back to the previous plan and quantity.
"""

import logging

from django.db import transaction
from django.utils import timezone

from audit.services import Actor, audit_record
from billing import services as billing_services
from billing import stripe_gateway as gateway
from billing import stripe_subscriptions
from kilo_dashboard.jobs import enqueue
from kilo_dashboard.money import format_cents

from .models import ChangeIntent, ChangeKind, IntentState
from .plans import PlanPrice
from .services import RECONCILE_TASK

logger = logging.getLogger(__name__)


def intent_metadata(intent: ChangeIntent) -> dict:
    """What names the intent on every Stripe object made for it."""
    return {"change_intent": str(intent.public_id)}


def _subscriptions_made_for(intent: ChangeIntent, customer_id: str) -> list:
    return [
        data
        for data in stripe_subscriptions.subscriptions_for_customer(customer_id)
        if data.metadata.get("change_intent") == str(intent.public_id)
    ]


def captured_for(intent: ChangeIntent) -> list[gateway.PaymentIntentData]:
    """Every payment Stripe captured for this intent (succeeded PaymentIntents), found in Stripe."""
    customer = billing_services.customer_ensure(intent.organization)
    found = {
        payment.id: payment
        for payment in stripe_subscriptions.payments_with_metadata(
            customer.stripe_id, intent_metadata(intent)
        )
    }
    if intent.kind == ChangeKind.SUBSCRIBED:
        for data in _subscriptions_made_for(intent, customer.stripe_id):
            payment = stripe_subscriptions.invoice_payment_intent(data.latest_invoice)
            if payment is not None:
                found[payment.id] = payment
    if intent.payment_intent_id and intent.payment_intent_id not in found:
        found[intent.payment_intent_id] = gateway.payment_intent_retrieve(intent.payment_intent_id)
    return [payment for payment in found.values() if payment.status == "succeeded"]


def _refund_rest(intent: ChangeIntent, payment: gateway.PaymentIntentData) -> int:
    """Refund what is left of one captured payment; returns the cents refunded now."""
    refunded = sum(
        refund.amount
        for refund in gateway.refunds_for_charge(payment.latest_charge)
        if refund.status != "failed"
    )
    left = payment.amount - refunded
    if left <= 0:
        return 0
    gateway.refund_create(
        payment_intent_id=payment.id,
        amount_cents=left,
        idempotency_key=f"{intent.idempotency_key}-refund-{payment.id}-{refunded}",
    )
    return left


def _put_stripe_back(intent: ChangeIntent, data: stripe_subscriptions.SubscriptionData) -> None:
    if intent.kind == ChangeKind.SUBSCRIBED:
        customer = billing_services.customer_ensure(intent.organization)
        made = {item.id: item for item in _subscriptions_made_for(intent, customer.stripe_id)}
        if data.metadata.get("change_intent") == str(intent.public_id):
            made.setdefault(data.id, data)
        for sub in made.values():
            if sub.status not in ("canceled", "incomplete_expired"):
                stripe_subscriptions.subscription_cancel_now(sub.id)
        return
    stripe_subscriptions.subscription_change_at_renewal(
        data,
        plan_id=PlanPrice(intent.from_plan, intent.from_interval).stripe_id,
        quantity=intent.from_quantity,
        idempotency_key=f"{intent.idempotency_key}-restore",
    )


def intent_reverse(intent: ChangeIntent, data: stripe_subscriptions.SubscriptionData) -> int:
    """A paid change that cannot be applied: refund all it captured, put Stripe back as it was.

    Returns the cents refunded by this call. Idempotent: a rerun finds nothing left to refund.
    """
    refunded = 0
    try:
        _put_stripe_back(intent, data)  # first, so no renewal charges it again meanwhile
        for payment in captured_for(intent):
            refunded += _refund_rest(intent, payment)
    except gateway.GatewayError as error:
        logger.exception("Reversing change %s failed", intent.public_id)
        ChangeIntent.objects.filter(pk=intent.pk).update(
            state=IntentState.NEEDS_ATTENTION,
            last_error=f"Reversal failed: {error.message}. Refund and restore it by hand.",
            updated_at=timezone.now(),
        )
        intent.state = IntentState.NEEDS_ATTENTION
        return refunded
    with transaction.atomic():
        before_state = intent.state
        ChangeIntent.objects.filter(pk=intent.pk).update(
            state=IntentState.REVERSED, completed_at=timezone.now(), updated_at=timezone.now()
        )
        intent.state = IntentState.REVERSED
        audit_record(
            actor=Actor.system(),
            action="subscription.change_reversed",
            organization=intent.organization,
            target=intent,
            target_label=f"{intent.get_kind_display()} of {format_cents(intent.amount_cents)}",
            before={"state": before_state},
            after={"state": IntentState.REVERSED, "refunded_cents": refunded},
        )
    enqueue(RECONCILE_TASK)
    return refunded
