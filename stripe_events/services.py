"""Stripe events: store by id first, hand off to a task after commit, run the handlers.

Unknown types are stored as ignored. A handler that fails transiently makes the event FAILED and
the delivery non-2xx, so Stripe (or the replay) delivers it again; handlers are idempotent, so
any number of re-runs (Stripe's, the task's retries, the hourly replay, staff's "retry now")
is safe.
"""

import logging
from enum import StrEnum

from django.db import IntegrityError, transaction
from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils import timezone

from audit.context import acting_as
from audit.models import ActorType
from audit.services import Actor, audit_record
from billing import stripe_gateway as gateway
from kilo_dashboard.jobs import enqueue

from .handlers import HANDLERS
from .models import StripeEvent, StripeEventStatus

logger = logging.getLogger(__name__)

PROCESS_TASK = "stripe_events.tasks.process_stripe_event"


class Received(StrEnum):
    NEW = "new"
    DUPLICATE = "duplicate"
    RETRY = "retry"  # seen before, but its handling failed: handle again
    IGNORED = "ignored"


class HandlerFailed(Exception):
    pass


def event_receive(event: dict) -> Received:
    """Store the (verified) event and schedule its handling after commit."""
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
                transaction.on_commit(lambda: enqueue(PROCESS_TASK, stored.pk))
        return Received.NEW if handled else Received.IGNORED
    except IntegrityError:
        pass
    existing = StripeEvent.objects.get(stripe_id=event["id"][:255])
    if existing.status in (StripeEventStatus.FAILED, StripeEventStatus.PENDING) and handled:
        # Stripe retries what we did not finish: run the handlers again (they are idempotent).
        enqueue(PROCESS_TASK, existing.pk)
        return Received.RETRY
    return Received.DUPLICATE


def event_process(event_pk: int) -> str:
    """Run the handlers for one stored event; record the outcome. Raises on failure."""
    with transaction.atomic():
        event = StripeEvent.objects.select_for_update().get(pk=event_pk)
        if event.status in (StripeEventStatus.PROCESSED, StripeEventStatus.IGNORED):
            return event.status
        event.attempts += 1
        event.save(update_fields=["attempts"])
    try:
        # What the handlers record with Actor.system() is shown as done by Stripe, this event.
        with acting_as(ActorType.STRIPE, f"Stripe event {event.stripe_id} ({event.type})"):
            for handler in HANDLERS[event.type]:
                handler(event.object_id)
    except gateway.GatewayError as error:
        _record_failure(event_pk, error)
        if error.transient:
            raise HandlerFailed(str(error)) from error
        # Stripe refused for good (e.g. the object is unknown): a redelivery cannot help, so the
        # outcome is recorded for an operator and the delivery is acknowledged.
        return StripeEventStatus.FAILED
    except Exception as error:
        logger.exception("Stripe event %s (%s) failed", event.stripe_id, event.type)
        _record_failure(event_pk, error)
        raise HandlerFailed(str(error)) from error
    StripeEvent.objects.filter(pk=event_pk).update(
        status=StripeEventStatus.PROCESSED, error="", failed_at=None, processed_at=timezone.now()
    )
    return StripeEventStatus.PROCESSED


def event_retry(*, actor: Actor, event_pk: int) -> str:
    """Staff's "retry now": run a failed (or stuck pending) event's handlers at once.

    It also re-arms the hourly replay (its count starts again), since staff retry once they
    believe the cause is gone. Returns the event's status afterwards.
    """
    with transaction.atomic():
        event = StripeEvent.objects.select_for_update().get(pk=event_pk)
        if event.status not in (StripeEventStatus.FAILED, StripeEventStatus.PENDING):
            return event.status
        audit_record(
            actor=actor,
            action="stripe_event.retried",
            target=event,
            target_type="stripe_event",
            target_id=event.stripe_id,
            before={
                "status": event.status,
                "attempts": event.attempts,
                "replays": event.replays,
                "error": event.error[:500],
            },
            after={"replays": 0},
        )
        StripeEvent.objects.filter(pk=event_pk).update(replays=0)
    # The handlers call Stripe: outside the transaction above, which is committed by now.
    try:
        return event_process(event_pk)
    except HandlerFailed:
        return StripeEventStatus.FAILED


def _record_failure(event_pk: int, error: Exception) -> None:
    StripeEvent.objects.filter(pk=event_pk).update(
        status=StripeEventStatus.FAILED,
        error=f"{type(error).__name__}: {error}"[:5000],
        # The first failure of this run of failures: "failed for over an hour" counts from it.
        failed_at=Coalesce(F("failed_at"), timezone.now()),
    )
