"""The hourly replay: events whose handling failed, events we never received, and a page for
events that keep failing.

A failed event is first retried by Stripe's redelivery (when the webhook answered non-2xx) and by
the task's own retries (seconds apart). A fault longer than those (a database restart, a Stripe
outage) used to leave the event FAILED for good; here it is run again every hour, up to
MAX_REPLAYS times, and once it has been failing for PAGE_AFTER it is logged at ERROR every run
so that operators are paged. Handlers are idempotent, so a re-run is always safe.
"""

import logging
import time
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from billing import stripe_gateway as gateway

from .handlers import HANDLERS
from .models import StripeEvent, StripeEventStatus
from .services import HandlerFailed, Received, event_process, event_receive

logger = logging.getLogger(__name__)

# Two days of hourly replays: past that the cause is not transient and needs a person (the
# event stays FAILED, listed in admin, logged every hour; "retry now" re-arms the count).
MAX_REPLAYS = 48
# At most this many events, and for at most this long, per run: a long outage must not make one
# run outlast the task's time limit (CELERY_TASK_SOFT_TIME_LIMIT); the rest wait an hour.
REPLAY_BATCH = 200
REPLAY_SECONDS = 120
# The task's own retries (exponential, 5 of them) are over within a minute; an event that
# failed more recently than this is left to them rather than run twice at once.
SETTLE = timedelta(minutes=10)
PAGE_AFTER = timedelta(hours=1)
# Lines logged per run at most (then one line with how many more): a page, not a flood.
PAGE_LINES = 50


def events_replay(*, since_seconds: int = 3 * 24 * 3600) -> int:
    """The hourly run: failed events again, missed events received, still-failing events paged.
    Returns how many events were handled now (replayed to success, or new)."""
    handled = failed_events_replay() + missed_events_receive(since_seconds=since_seconds)
    failing_events_page()
    return handled


def failed_events_replay() -> int:
    """Run the handlers again for events that failed (or were never run: a task lost with its
    broker) and have replays left. Returns how many succeeded."""
    settled = timezone.now() - SETTLE
    due = (
        StripeEvent.objects.filter(
            Q(status=StripeEventStatus.FAILED, failed_at__lte=settled)
            | Q(status=StripeEventStatus.PENDING, received_at__lte=settled),
            replays__lt=MAX_REPLAYS,
        )
        .order_by("received_at", "pk")
        .values_list("pk", "replays")[:REPLAY_BATCH]
    )
    succeeded = 0
    deadline = time.monotonic() + REPLAY_SECONDS
    for event_pk, replays in due:
        if time.monotonic() > deadline:
            break
        # Claim by the count read above: a second replay running at once skips the event.
        claimed = StripeEvent.objects.filter(pk=event_pk, replays=replays).update(
            replays=replays + 1, last_replayed_at=timezone.now()
        )
        if not claimed:
            continue
        try:
            outcome = event_process(event_pk)
        except HandlerFailed:
            continue  # recorded on the event (error, tries); next hour tries again
        succeeded += outcome == StripeEventStatus.PROCESSED
    return succeeded


def missed_events_receive(*, since_seconds: int) -> int:
    """Receive recent handled events we have not stored (their webhook never came). Stored ones
    are left to failed_events_replay, which bounds how often they run."""
    events = gateway.events_list(
        created_after=int(time.time()) - since_seconds, types=sorted(HANDLERS)
    )
    stored = set(
        StripeEvent.objects.filter(stripe_id__in=[e["id"] for e in events]).values_list(
            "stripe_id", flat=True
        )
    )
    received = 0
    for event in events:
        if event["id"] in stored:
            continue
        try:
            received += event_receive(event) == Received.NEW
        except Exception:  # noqa: BLE001 - one event never stops the run
            # Stored before anything ran; handled at once (eager tasks, or the enqueue failed)
            # and failed: its row keeps the error and the next run replays it like any other.
            logger.warning("Missed Stripe event %s failed on receipt", event["id"], exc_info=True)
    return received


def failing_events_page() -> int:
    """Log at ERROR, once per run, every event that has been FAILED for over PAGE_AFTER.
    Returns how many there are."""
    failing = StripeEvent.objects.filter(
        status=StripeEventStatus.FAILED, failed_at__lte=timezone.now() - PAGE_AFTER
    ).order_by("failed_at", "pk")
    count = failing.count()
    shown = failing.only("stripe_id", "type", "failed_at", "attempts", "replays", "error")
    for event in shown[:PAGE_LINES]:
        logger.error(
            "Stripe event %s (%s) has been FAILED since %s: %d tries, %d of %d replays; "
            "last error: %s",
            event.stripe_id,
            event.type,
            event.failed_at.isoformat(),
            event.attempts,
            event.replays,
            MAX_REPLAYS,
            event.error[:300],
        )
    if count > PAGE_LINES:
        logger.error("%d more Stripe events have been FAILED for over an hour.", count - PAGE_LINES)
    return count
