"""Thin Celery wrappers: each takes ids (or nothing) and calls one service."""

from celery import shared_task

from . import replay, services


@shared_task(
    name="stripe_events.tasks.process_stripe_event",
    autoretry_for=(services.HandlerFailed,),
    retry_backoff=True,
    max_retries=5,
)
def process_stripe_event(event_pk: int) -> str:
    return services.event_process(event_pk)


@shared_task(name="stripe_events.tasks.replay_missed_events")
def replay_missed_events() -> int:
    return replay.events_replay()
