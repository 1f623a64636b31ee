"""Retention pruning and chain verification (the daily task and `manage.py verify_audit_chain`)."""

import zoneinfo
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from .chain import CHAIN_FIELDS, ChainReport, verify
from .models import AuditCount, AuditEvent, AuditMemberCount, AuditTrail, ChainCheck
from .services import (
    DEFAULT_RETENTION_YEARS,
    Actor,
    _lock_trail,
    audit_record,
    retention_cutoff,
)

PRUNE_BATCH = 10_000
RECOUNT = """
INSERT INTO audit_auditcount (organization_id, day, action, count)
SELECT organization_id, (created_at AT TIME ZONE %s)::date, action, count(*)
FROM audit_auditevent
WHERE organization_id = %s AND created_at >= %s AND created_at < %s
GROUP BY 1, 2, 3
"""
RECOUNT_MEMBERS = """
INSERT INTO audit_auditmembercount (organization_id, actor_id, day, action, count)
SELECT organization_id, actor_id, (created_at AT TIME ZONE %s)::date, action, count(*)
FROM audit_auditevent
WHERE organization_id = %s AND created_at >= %s AND created_at < %s AND actor_id IS NOT NULL
GROUP BY 1, 2, 3, 4
"""


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
            count = _prune_batch(organization, cutoff, through, batch)
        if not count:
            break
        deleted += count
    if deleted:
        with transaction.atomic():
            # Days before the cutoff's go; the cutoff's own day is recounted from what is kept.
            cutoff_day = timezone.localdate(cutoff, _tz(organization))
            AuditCount.objects.filter(organization=organization, day__lt=cutoff_day).delete()
            AuditMemberCount.objects.filter(organization=organization, day__lt=cutoff_day).delete()
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
        counts_rebuild(organization, day=cutoff_day)
    anchor = AuditTrail.objects.filter(pk=organization.pk).values_list("anchor_sequence", flat=True)
    return PruneResult(deleted, cutoff, anchor.first() or 0)


def counts_rebuild(organization: Any, *, day: date | None = None) -> None:
    """Recount one local day (or, when `day` is None or the zone changed, every day) from the
    events, in the organization's current time zone. Holds the chain lock meanwhile."""
    time_zone = organization.time_zone or "UTC"
    tz = zoneinfo.ZoneInfo(time_zone)
    with transaction.atomic():
        trail = _lock_trail(organization.pk)
        counts = AuditCount.objects.filter(organization_id=organization.pk)
        member_counts = AuditMemberCount.objects.filter(organization_id=organization.pk)
        # Far past and far future stand for "every day".
        since, until = datetime(1970, 1, 1, tzinfo=UTC), datetime(9999, 1, 1, tzinfo=UTC)
        if day is not None and trail.count_time_zone == time_zone:
            counts, member_counts = counts.filter(day=day), member_counts.filter(day=day)
            since = datetime.combine(day, time.min, tz)
            until = datetime.combine(day + timedelta(days=1), time.min, tz)
        counts.delete()
        member_counts.delete()
        _recount(organization.pk, time_zone, since, until)
        AuditTrail.objects.filter(pk=trail.pk).update(count_time_zone=time_zone)


def _recount(organization_id: int, time_zone: str, since: datetime, until: datetime) -> None:
    """Fill both count tables for [since, until) from the events (their rows there are gone)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            for sql in (RECOUNT, RECOUNT_MEMBERS):
                cursor.execute(sql, [time_zone, organization_id, since, until])
        return
    # Elsewhere (the SQLite demo, a few events) the days are worked out here.
    tz = zoneinfo.ZoneInfo(time_zone)
    events = AuditEvent.objects.filter(
        organization_id=organization_id, created_at__gte=since, created_at__lt=until
    ).order_by()
    per_day, per_member = Counter(), Counter()
    for actor_id, moment, action in events.values_list("actor_id", "created_at", "action"):
        day = moment.astimezone(tz).date()
        per_day[day, action] += 1
        if actor_id is not None:
            per_member[actor_id, day, action] += 1
    AuditCount.objects.bulk_create(
        AuditCount(organization_id=organization_id, day=d, action=a, count=n)
        for (d, a), n in per_day.items()
    )
    AuditMemberCount.objects.bulk_create(
        AuditMemberCount(organization_id=organization_id, actor_id=u, day=d, action=a, count=n)
        for (u, d, a), n in per_member.items()
    )


def _tz(organization: Any) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(organization.time_zone or "UTC")


def counts_follow_time_zone(organization: Any) -> bool:
    """Rebuild the day counts when the organization changed its time zone; True if rebuilt."""
    zone = AuditTrail.objects.filter(pk=organization.pk).values_list("count_time_zone", flat=True)
    current = zone.first()
    if current is None or current == (organization.time_zone or "UTC"):
        return False
    counts_rebuild(organization)
    return True


def _prune_batch(organization: Any, cutoff: datetime, through: int, batch: int) -> int:
    """Remove up to `batch` events from the anchor on, through `through`; move the anchor."""
    if connection.vendor == "postgresql":
        # The database lets only audit_prune() (owned by the maintenance role) delete events or
        # move the anchor, and it refuses a cut-off inside the retention (migration 0007).
        with connection.cursor() as cursor:
            cursor.execute("SELECT audit_prune(%s, %s, %s)", [organization.pk, cutoff, batch])
            return cursor.fetchone()[0]
    # SQLite (the demo) has no triggers: the same prefix is removed here.
    trail = _lock_trail(organization.pk)
    if trail.anchor_sequence >= through:
        return 0
    end = min(trail.anchor_sequence + batch, through)
    last = (
        AuditEvent.objects.filter(organization=organization, sequence__lte=end)
        .order_by("-sequence")
        .values_list("sequence", "hash")
        .first()
    )
    if last is None:
        return 0
    count, _ = AuditEvent.objects.filter(organization=organization, sequence__lte=last[0]).delete()
    AuditTrail.objects.filter(pk=trail.pk).update(anchor_sequence=last[0], anchor_hash=last[1])
    return count


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
