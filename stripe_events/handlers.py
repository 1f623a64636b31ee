"""The one table from Stripe event type to the handlers that react to it, in order.

Each handler takes the id of the event's object and re-fetches that object from Stripe (events
arrive late, twice, or out of order; the object's current state is what counts). Billing's
mirror runs before the subscription's reaction to the same invoice.
"""

from collections.abc import Callable

from billing import sync as billing
from subscriptions import resume as subscription_changes
from subscriptions import sync as subscriptions

Handler = Callable[[str], object]

HANDLERS: dict[str, tuple[Handler, ...]] = {
    "payment_intent.succeeded": (
        billing.payment_intent_sync,
        subscription_changes.payment_intent_sync,
    ),
    "payment_intent.payment_failed": (
        billing.payment_intent_sync,
        subscription_changes.payment_intent_sync,
    ),
    "charge.refunded": (billing.charge_refunds_sync,),
    "setup_intent.succeeded": (billing.setup_intent_sync,),
    "payment_method.attached": (billing.payment_method_sync,),
    "payment_method.updated": (billing.payment_method_sync,),
    "payment_method.detached": (billing.payment_method_sync,),
    "customer.updated": (billing.customer_sync,),
    "invoice.created": (billing.invoice_sync,),
    "invoice.finalized": (billing.invoice_sync,),
    "invoice.paid": (
        billing.invoice_sync,
        subscriptions.invoice_paid,
        subscription_changes.invoice_paid,
    ),
    "invoice.payment_failed": (billing.invoice_sync, subscriptions.invoice_payment_failed),
    "customer.subscription.created": (subscriptions.subscription_sync,),
    "customer.subscription.updated": (subscriptions.subscription_sync,),
    "customer.subscription.deleted": (subscriptions.subscription_sync,),
}
