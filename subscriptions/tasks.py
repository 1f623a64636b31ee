"""Thin Celery wrappers: each takes ids (or nothing) and calls one service."""

import logging

from celery import shared_task

from . import renewal, resume, sync

logger = logging.getLogger(__name__)


@shared_task(name="subscriptions.tasks.reconcile_subscriptions")
def reconcile_subscriptions() -> int:
    repaired = sync.reconcile()
    for line in repaired:
        logger.warning("Subscription drift repaired: %s", line)
    return len(repaired)


@shared_task(name="subscriptions.tasks.apply_scheduled_changes")
def apply_scheduled_changes() -> int:
    applied = 0
    for subscription_id in sync.scheduled_changes_due():
        apply_scheduled_change.delay(subscription_id)
        applied += 1
    return applied


@shared_task(name="subscriptions.tasks.apply_scheduled_change")
def apply_scheduled_change(subscription_id: int) -> bool:
    return renewal.scheduled_changes_apply(subscription_id)


@shared_task(name="subscriptions.tasks.resume_change_intents")
def resume_change_intents() -> int:
    """Finish (or reverse) the changes at once that a request left open."""
    due = resume.intents_due()
    for intent_pk in due:
        resume_change_intent.delay(intent_pk)
    return len(due)


@shared_task(name="subscriptions.tasks.resume_change_intent")
def resume_change_intent(intent_pk: int) -> str:
    return resume.intent_resume(intent_pk)
