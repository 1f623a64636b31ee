"""Stripe events: store by id first, hand off to a task after commit, handle by type.

A dict maps each handled event type to a function taking the id of the event's object; the
function re-fetches that object from Stripe (see sync.py). Unknown types are stored as ignored.
"""

import logging
from collections.abc import Callable
from enum import StrEnum

from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.context import acting_as
from audit.models import ActorType

from . import stripe_gateway as gateway
from . import sync
from .models import StripeEvent, StripeEventStatus

logger = logging.getLogger(__name__)


def _charge_refunded(object_id: str) -> None:
    sync.charge_refunds_sync(object_id)


HANDLERS: dict[str, Callable[[str], object]] = {
    "payment_intent.succeeded": sync.payment_intent_sync,
    "payment_intent.payment_failed": sync.payment_intent_sync,
    "charge.refunded": _charge_refunded,
    "setup_intent.succeeded": sync.setup_intent_sync,
    "payment_method.attached": sync.payment_method_sync,
    "payment_method.updated": sync.payment_method_sync,
    "payment_method.detached": sync.payment_method_sync,
    "invoice.created": sync.invoice_sync,
    "invoice.finalized": sync.invoice_sync,
    "invoice.paid": sync.invoice_sync,
    "invoice.payment_failed": sync.invoice_sync,
    "customer.updated": sync.customer_sync,
}

# The subscriptions app adds customer.subscription.* and chains onto invoice.paid/payment_failed.
from subscriptions.webhooks import extend_handlers  # noqa: E402

extend_handlers(HANDLERS)


class Received(StrEnum):
    NEW = "new"
    DUPLICATE = "duplicate"
    RETRY = "retry"  # seen before, but its handling failed: handle again
    IGNORED = "ignored"


def event_receive(event: dict) -> Received:
    """Store the (verified) event and schedule its handling after commit."""
    from . import tasks

    handled = event["type"] in HANDLERS
    object_id = str((event.get("data", {}).get("object") or {}).get("id") or "")[:255]
    try:
        with transaction.atomic():
            stored = StripeEvent.objects.create(
                stripe_id=event["id"][:255],
                type=event["type"][:100],
                status=StripeEventStatus.PENDING if handled else StripeEventStatus.IGNORED,
                api_version=str(event.get("api_version") or "")[:40],
                object_id=object_id,
                payload=event,
            )
            if handled:
                transaction.on_commit(lambda: tasks.process_stripe_event.delay(stored.pk))
        return Received.NEW if handled else Received.IGNORED
    except IntegrityError:
        pass
    existing = StripeEvent.objects.get(stripe_id=event["id"][:255])
    if existing.status in (StripeEventStatus.FAILED, StripeEventStatus.PENDING) and handled:
        # Stripe retries what we did not finish: run the handler again (it is idempotent).
        tasks.process_stripe_event.delay(existing.pk)
        return Received.RETRY
    return Received.DUPLICATE


class HandlerFailed(Exception):
    pass


def event_process(event_pk: int) -> str:
    """Run the handler for one stored event; record the outcome. Raises on failure."""
    with transaction.atomic():
        event = StripeEvent.objects.select_for_update().get(pk=event_pk)
        if event.status in (StripeEventStatus.PROCESSED, StripeEventStatus.IGNORED):
            return event.status
        event.attempts += 1
        event.save(update_fields=["attempts"])
    handler = HANDLERS[event.type]
    try:
        # What the handlers record with Actor.system() is shown as done by Stripe, this event.
        with acting_as(ActorType.STRIPE, f"Stripe event {event.stripe_id} ({event.type})"):
            handler(event.object_id)
    except gateway.GatewayError as error:
        if error.transient:
            _record_failure(event_pk, error)
            raise HandlerFailed(str(error)) from error
        # Stripe refused for good (e.g. the object is unknown): a redelivery cannot help, so the
        # outcome is recorded for an operator and the delivery is acknowledged.
        _record_failure(event_pk, error)
        return StripeEventStatus.FAILED
    except Exception as error:
        logger.exception("Stripe event %s (%s) failed", event.stripe_id, event.type)
        _record_failure(event_pk, error)
        raise HandlerFailed(str(error)) from error
    StripeEvent.objects.filter(pk=event_pk).update(
        status=StripeEventStatus.PROCESSED, error="", processed_at=timezone.now()
    )
    return StripeEventStatus.PROCESSED


def _record_failure(event_pk: int, error: Exception) -> None:
    StripeEvent.objects.filter(pk=event_pk).update(
        status=StripeEventStatus.FAILED, error=f"{type(error).__name__}: {error}"[:5000]
    )
