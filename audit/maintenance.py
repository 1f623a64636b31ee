"""Retention pruning and chain verification (the daily task and `manage.py verify_audit_chain`)."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from .chain import CHAIN_FIELDS, ChainReport, verify
from .models import AuditCount, AuditEvent, AuditTrail, ChainCheck
from .services import (
    DEFAULT_RETENTION_YEARS,
    Actor,
    _lock_trail,
    audit_record,
    bucket_of,
    retention_cutoff,
)

PRUNE_BATCH = 10_000


def effective_retention_years(organization: Any, trail: AuditTrail) -> int:
    """Teams keeps one year; Enterprise keeps what it chose (1 to 7 years)."""
    return trail.retention_years if organization.is_enterprise else DEFAULT_RETENTION_YEARS


@dataclass(frozen=True)
class PruneResult:
    deleted: int
    cutoff: datetime
    anchor_sequence: int


def prune(
    organization: Any, *, now: datetime | None = None, batch: int = PRUNE_BATCH
) -> PruneResult:
    """Delete the events older than the retention, oldest first, in batches; move the anchor."""
    now = now or timezone.now()
    trail = AuditTrail.objects.filter(pk=organization.pk).first()
    if trail is None:
        return PruneResult(0, now, 0)
    years = effective_retention_years(organization, trail)
    cutoff = retention_cutoff(now, years)
    # The chain is pruned as a prefix, through the newest event older than the cutoff. (Time and
    # sequence order agree: the clock is read under the chain lock.)
    through = (
        AuditEvent.objects.filter(organization=organization, created_at__lt=cutoff)
        .order_by("-created_at", "-id")
        .values_list("sequence", flat=True)
        .first()
    )
    deleted = 0
    while through is not None:
        with transaction.atomic():
            trail = _lock_trail(organization.pk)
            if trail.anchor_sequence >= through:
                break
            end = min(trail.anchor_sequence + batch, through)
            last = (
                AuditEvent.objects.filter(organization=organization, sequence__lte=end)
                .order_by("-sequence")
                .values_list("sequence", "hash")
                .first()
            )
            if last is None:
                break
            _allow_pruning()
            count, _ = AuditEvent.objects.filter(
                organization=organization, sequence__lte=last[0]
            ).delete()
            AuditTrail.objects.filter(pk=trail.pk).update(
                anchor_sequence=last[0], anchor_hash=last[1]
            )
            deleted += count
    if deleted:
        with transaction.atomic():
            AuditCount.objects.filter(
                organization=organization, bucket__lt=bucket_of(cutoff)
            ).delete()
            audit_record(
                actor=Actor.system(),
                action="audit.events_pruned",
                organization=organization,
                target=organization,
                after={
                    "events_removed": deleted,
                    "older_than": cutoff.isoformat(),
                    "retention_years": years,
                },
            )
    anchor = AuditTrail.objects.filter(pk=organization.pk).values_list("anchor_sequence", flat=True)
    return PruneResult(deleted, cutoff, anchor.first() or 0)


def _allow_pruning() -> None:
    """Open the trigger's one door for DELETE, for this transaction only."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL audit.pruning = 'on'")


def verify_organization(organization: Any, *, record: bool = True) -> ChainReport:
    """Verify the whole chain of one organization from one consistent snapshot."""
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if outermost and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        trail = AuditTrail.objects.filter(pk=organization.pk).first()
        report = ChainReport(True, 0, 0) if trail is None else _verify_trail(organization, trail)
    if record:
        ChainCheck.objects.create(
            organization=organization,
            checked_at=timezone.now(),
            ok=report.ok,
            events_checked=report.events_checked,
            through_sequence=report.through_sequence,
            problem=report.problem,
        )
    return report


def _verify_trail(organization: Any, trail: AuditTrail) -> ChainReport:
    events = AuditEvent.objects.filter(organization=organization)
    outside = events.filter(sequence__isnull=True).count()
    if outside:
        return ChainReport(
            False, 0, trail.anchor_sequence, f"{outside} event(s) were inserted outside the chain."
        )
    rows = (
        events.filter(sequence__gt=trail.anchor_sequence, sequence__lte=trail.last_sequence)
        .order_by("sequence")
        .values(*CHAIN_FIELDS, "prev_hash", "hash")
        .iterator(chunk_size=5000)
    )
    report = verify(
        rows,
        anchor_sequence=trail.anchor_sequence,
        anchor_hash=trail.anchor_hash,
        head_sequence=trail.last_sequence,
        head_hash=trail.last_hash,
    )
    if report.ok and events.filter(sequence__gt=trail.last_sequence).exists():
        return ChainReport(
            False,
            report.events_checked,
            report.through_sequence,
            f"Events after the chain's head (#{trail.last_sequence}) were inserted outside it.",
        )
    return report
