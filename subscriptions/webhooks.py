"""The subscription event types, registered into billing's one dispatch table.

billing/webhooks.py calls `extend_handlers(HANDLERS)`: subscription events get their handler,
and invoice.paid / invoice.payment_failed keep billing's invoice mirror and add ours after it.
"""

from collections.abc import Callable

from . import sync

SUBSCRIPTION_EVENTS = (
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
)
INVOICE_EVENTS = {
    "invoice.paid": sync.invoice_paid,
    "invoice.payment_failed": sync.invoice_payment_failed,
}


def _chain(first: Callable[[str], object], then: Callable[[str], object]) -> Callable[[str], None]:
    def handler(object_id: str) -> None:
        first(object_id)
        then(object_id)

    handler.__name__ = f"{getattr(first, '__name__', 'handler')}_then_{then.__name__}"
    return handler


def extend_handlers(handlers: dict[str, Callable[[str], object]]) -> None:
    for event_type in SUBSCRIPTION_EVENTS:
        handlers[event_type] = sync.subscription_sync
    for event_type, handler in INVOICE_EVENTS.items():
        existing = handlers.get(event_type)
        handlers[event_type] = _chain(existing, handler) if existing else handler
