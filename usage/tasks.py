"""Thin Celery wrappers: each calls one function and is safe to run twice."""

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from . import partitions, rollup


@shared_task(name="usage.tasks.rollup_usage")
def rollup_usage() -> int:
    return rollup.rollup_run().events


@shared_task(name="usage.tasks.maintain_partitions")
def maintain_partitions() -> dict:
    today = timezone.now().date()
    cutoff = today - timedelta(days=settings.USAGE_RETENTION_DAYS)
    created = partitions.ensure_partitions(today, months_back=0, months_ahead=3)
    dropped = partitions.drop_partitions_before(cutoff)
    pruned = partitions.prune_ingested_requests(cutoff)
    return {"created": created, "dropped": dropped, "pruned_request_ids": pruned}
