"""The incremental rollup: raw events -> hourly and daily rollups, idempotently.

How it stays correct:
- A cursor (RollupState.last_event_id) walks the event id sequence. The run claims the state row
  with SELECT .. FOR UPDATE SKIP LOCKED, so two workers never fold the same events twice.
- The high-water mark is read while holding an advisory lock that every ingest transaction holds
  in shared mode: once we get it exclusively, every id up to max(id) belongs to a finished
  transaction, so no event can appear later below the mark.
- New events only say *which* buckets changed (org x hour, org x local day). Those buckets are
  rebuilt from all their raw events, so late events and percentiles come out right and running
  the same range twice changes nothing.
Everything happens in one transaction: a crash leaves the cursor where it was.
"""

import zoneinfo
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.db import connection, transaction
from django.utils import timezone

from organizations.models import Organization
from organizations.services import memberships_touch_activity

from .ingest import INGEST_LOCK_KEY
from .models import DirtyDay, DirtyHour, RollupState

METRICS = (
    "requests",
    "errors",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cost_microdollars",
)
RAW_SUMS = (
    "COUNT(*)",
    "SUM(CASE WHEN status = 'error' THEN 1 ELSE 0 END)",
    "SUM(input_tokens)",
    "SUM(output_tokens)",
    "SUM(cache_read_tokens)",
    "SUM(cache_write_tokens)",
    "SUM(cost_microdollars)",
)
# Nearest-rank percentile: the k-th smallest latency, k = ceil(n * p / 100), in integer maths so
# that the same SQL runs on PostgreSQL and SQLite.
PERCENTILES = (
    "MAX(CASE WHEN rn = (n * 50 + 99) / 100 THEN latency_ms END)",
    "MAX(CASE WHEN rn = (n * 95 + 99) / 100 THEN latency_ms END)",
)


@dataclass(frozen=True)
class RollupReport:
    claimed: bool
    events: int = 0
    hours: int = 0
    days: int = 0
    last_event_id: int = 0


def _high_water_mark(cursor) -> int:  # noqa: ANN001
    if connection.vendor == "postgresql":
        cursor.execute("SELECT pg_advisory_lock(%s)", [INGEST_LOCK_KEY])
        try:
            cursor.execute("SELECT coalesce(max(id), 0) FROM usage_usageevent")
            return cursor.fetchone()[0]
        finally:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [INGEST_LOCK_KEY])
    cursor.execute("SELECT coalesce(max(id), 0) FROM usage_usageevent")
    return cursor.fetchone()[0]


def _hour_sql(column: str, plus_hour: bool = False) -> str:
    if connection.vendor == "postgresql":
        sql = f"date_trunc('hour', {column})"
        return f"({sql} + interval '1 hour')" if plus_hour else sql
    modifier = ", '+1 hour'" if plus_hour else ""
    return f"strftime('%%Y-%%m-%%d %%H:00:00', {column}{modifier})"


def _mark_dirty_hours(cursor, low: int, high: int) -> None:  # noqa: ANN001
    conflict = " ON CONFLICT DO NOTHING"
    cursor.execute(
        "INSERT INTO usage_dirtyhour (organization_id, hour_start, hour_end) "  # noqa: S608
        f"SELECT DISTINCT organization_id, {_hour_sql('occurred_at')}, "
        f"{_hour_sql('occurred_at', plus_hour=True)} "
        f"FROM usage_usageevent WHERE id > %s AND id <= %s{conflict}",
        [low, high],
    )


def _local_day_bounds(day: date, tz: zoneinfo.ZoneInfo) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=tz).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=tz).astimezone(UTC)
    return start, end


def _mark_dirty_days() -> int:
    hours = list(DirtyHour.objects.values_list("organization_id", "hour_start"))
    zones = dict(
        Organization.objects.filter(pk__in={org for org, _ in hours}).values_list("pk", "time_zone")
    )
    days: set[tuple[int, date]] = set()
    for org_id, hour_start in hours:
        tz = zoneinfo.ZoneInfo(zones.get(org_id, "UTC"))
        # An hour can straddle two local days in zones with half-hour offsets.
        days.add((org_id, hour_start.astimezone(tz).date()))
        days.add((org_id, (hour_start + timedelta(minutes=59)).astimezone(tz).date()))
    rows = []
    for org_id, day in days:
        start, end = _local_day_bounds(day, zoneinfo.ZoneInfo(zones.get(org_id, "UTC")))
        rows.append(DirtyDay(organization_id=org_id, day=day, start_utc=start, end_utc=end))
    DirtyDay.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)
    return len(rows)


def _rebuild_from_raw(
    cursor,  # noqa: ANN001
    *,
    table: str,
    bucket_column: str,
    dirty_table: str,
    dirty_bucket: str,
    dirty_start: str,
    dirty_end: str,
    keys: tuple[str, ...],
    bucket_match: str = "",
    params: tuple = (),
    organization_id: int | None = None,
) -> None:
    """Delete and re-aggregate the dirty buckets of one rollup table from the raw events.

    `bucket_match` (PostgreSQL) restates the bucket as an equality on an expression of the
    event alone, so the planner can hash-join a large catch-up instead of testing every event
    against every dirty range; the range conditions stay for index scans of small runs.
    """
    only_org = "" if organization_id is None else f" AND d.organization_id = {int(organization_id)}"
    cursor.execute(
        f"DELETE FROM {table} WHERE EXISTS (SELECT 1 FROM {dirty_table} d "  # noqa: S608
        f"WHERE d.organization_id = {table}.organization_id AND d.{dirty_bucket} = {table}.{bucket_column}"
        f"{only_org})"
    )
    if connection.vendor == "postgresql":
        _aggregate_postgresql(
            cursor,
            table=table,
            bucket_column=bucket_column,
            dirty_table=dirty_table,
            dirty_bucket=dirty_bucket,
            join=f"e.occurred_at >= d.{dirty_start} AND e.occurred_at < d.{dirty_end}"
            f"{only_org} {bucket_match}",
            keys=keys,
            params=params,
        )
        return
    partition = ", ".join(["d.organization_id", f"d.{dirty_bucket}", *(f"e.{k}" for k in keys)])
    group = ", ".join(["organization_id", "bucket", *keys])
    cursor.execute(
        f"INSERT INTO {table} (organization_id, {bucket_column}, {', '.join(keys)}, "  # noqa: S608
        f"{', '.join(METRICS)}, latency_p50_ms, latency_p95_ms) "
        f"SELECT {group}, {', '.join(RAW_SUMS)}, {', '.join(PERCENTILES)} FROM ("
        f"SELECT d.organization_id, d.{dirty_bucket} AS bucket, "
        f"{', '.join(f'e.{k}' for k in keys)}, e.status, e.input_tokens, e.output_tokens, "
        "e.cache_read_tokens, e.cache_write_tokens, e.cost_microdollars, e.latency_ms, "
        f"ROW_NUMBER() OVER (PARTITION BY {partition} ORDER BY e.latency_ms) AS rn, "
        f"COUNT(*) OVER (PARTITION BY {partition}) AS n "
        f"FROM {dirty_table} d JOIN usage_usageevent e ON e.organization_id = d.organization_id "
        f"AND e.occurred_at >= d.{dirty_start} AND e.occurred_at < d.{dirty_end}"
        f"{only_org} {bucket_match}"
        f") ranked GROUP BY {group}",
        list(params),
    )


def _aggregate_postgresql(
    cursor,  # noqa: ANN001
    *,
    table: str,
    bucket_column: str,
    dirty_table: str,
    dirty_bucket: str,
    join: str,
    keys: tuple[str, ...],
    params: tuple,
) -> None:
    """PostgreSQL: one GROUP BY with percentile_disc, which is the same nearest-rank percentile
    as the portable window-function form below, at a fraction of its cost."""
    event_keys = ", ".join(f"e.{k}" for k in keys)
    cursor.execute(
        f"INSERT INTO {table} (organization_id, {bucket_column}, {', '.join(keys)}, "  # noqa: S608
        f"{', '.join(METRICS)}, latency_p50_ms, latency_p95_ms) "
        f"SELECT d.organization_id, d.{dirty_bucket}, {event_keys}, {', '.join(RAW_SUMS)}, "
        "percentile_disc(0.5) WITHIN GROUP (ORDER BY e.latency_ms), "
        "percentile_disc(0.95) WITHIN GROUP (ORDER BY e.latency_ms) "
        f"FROM {dirty_table} d JOIN usage_usageevent e ON e.organization_id = d.organization_id "
        f"AND {join} GROUP BY d.organization_id, d.{dirty_bucket}, {event_keys}",
        list(params),
    )


def _rebuild_from_rollup(
    cursor,  # noqa: ANN001
    *,
    table: str,
    source: str,
    bucket_column: str,
    dirty_table: str,
    dirty_bucket: str,
    keys: tuple[str, ...],
    extra_columns: tuple[str, ...] = (),
    extra_values: tuple[str, ...] = (),
) -> None:
    """Rebuild a coarser rollup's dirty buckets by summing a finer one (additive figures only)."""
    cursor.execute(
        f"DELETE FROM {table} WHERE EXISTS (SELECT 1 FROM {dirty_table} d "  # noqa: S608
        f"WHERE d.organization_id = {table}.organization_id AND d.{dirty_bucket} = {table}.{bucket_column})"
    )
    key_list = "".join(f", s.{k}" for k in keys)
    columns = ", ".join(["organization_id", bucket_column, *keys, *METRICS, *extra_columns])
    sums = ", ".join(f"SUM(s.{m})" for m in METRICS)
    extras = "".join(f", {value}" for value in extra_values)
    cursor.execute(
        f"INSERT INTO {table} ({columns}) "  # noqa: S608
        f"SELECT s.organization_id, s.{bucket_column}{key_list}, {sums}{extras} "
        f"FROM {source} s JOIN {dirty_table} d ON d.organization_id = s.organization_id "
        f"AND d.{dirty_bucket} = s.{bucket_column} "
        f"GROUP BY s.organization_id, s.{bucket_column}{key_list}"
    )


def _dirty_day_zones() -> list[tuple[int, str]]:
    org_ids = set(DirtyDay.objects.values_list("organization_id", flat=True).distinct())
    zones = dict(Organization.objects.filter(pk__in=org_ids).values_list("pk", "time_zone"))
    return [(org_id, zones.get(org_id, "UTC")) for org_id in sorted(org_ids)]


def _rebuild(cursor) -> None:  # noqa: ANN001
    postgres = connection.vendor == "postgresql"
    hourly = {"dirty_table": "usage_dirtyhour", "dirty_bucket": "hour_start"}
    daily = {"dirty_table": "usage_dirtyday", "dirty_bucket": "day"}
    _rebuild_from_raw(
        cursor,
        table="usage_hourlyrollup",
        bucket_column="hour",
        dirty_start="hour_start",
        dirty_end="hour_end",
        keys=("user_id", "model", "provider"),
        bucket_match="AND date_trunc('hour', e.occurred_at) = d.hour_start" if postgres else "",
        **hourly,
    )
    _rebuild_from_rollup(
        cursor,
        table="usage_orghourlyrollup",
        source="usage_hourlyrollup",
        bucket_column="hour",
        keys=(),
        **hourly,
    )
    # Per organization on PostgreSQL: its time zone makes the local day an event-side equality.
    scopes = _dirty_day_zones() if postgres else [(None, "")]
    for table, keys in (
        ("usage_dailyrollup", ("user_id", "model", "provider")),
        ("usage_modeldailyrollup", ("model", "provider")),
    ):
        for organization_id, time_zone in scopes:
            _rebuild_from_raw(
                cursor,
                table=table,
                bucket_column="day",
                dirty_start="start_utc",
                dirty_end="end_utc",
                keys=keys,
                bucket_match="AND (e.occurred_at AT TIME ZONE %s)::date = d.day"
                if postgres
                else "",
                params=(time_zone,) if postgres else (),
                organization_id=organization_id,
                **daily,
            )
    _rebuild_from_rollup(
        cursor,
        table="usage_memberdailyrollup",
        source="usage_dailyrollup",
        bucket_column="day",
        keys=("user_id",),
        **daily,
    )
    _rebuild_from_rollup(
        cursor,
        table="usage_orgdailyrollup",
        source="usage_dailyrollup",
        bucket_column="day",
        keys=(),
        extra_columns=("active_users",),
        extra_values=("COUNT(DISTINCT s.user_id)",),
        **daily,
    )


def _touch_activity(cursor, low: int, high: int) -> None:  # noqa: ANN001
    cursor.execute(
        "SELECT organization_id, user_id, MAX(occurred_at) FROM usage_usageevent "
        "WHERE id > %s AND id <= %s GROUP BY organization_id, user_id",
        [low, high],
    )
    by_org: dict[int, dict[int, datetime]] = {}
    for org_id, user_id, seen_at in cursor.fetchall():
        if isinstance(seen_at, str):  # SQLite hands back text from a raw aggregate
            seen_at = datetime.fromisoformat(seen_at).replace(tzinfo=UTC)
        by_org.setdefault(org_id, {})[user_id] = seen_at
    for org_id, last_seen in by_org.items():
        memberships_touch_activity(org_id, last_seen)


def rollup_run(*, max_events: int = 2_000_000) -> RollupReport:
    """Fold events past the cursor (at most `max_events`) into every rollup. Idempotent."""
    RollupState.objects.get_or_create(pk=1)
    with transaction.atomic():
        state = RollupState.objects.select_for_update(skip_locked=True).filter(pk=1).first()
        if state is None:
            return RollupReport(claimed=False)  # another worker is rolling up right now
        low = state.last_event_id
        with connection.cursor() as cursor:
            high = min(_high_water_mark(cursor), low + max_events)
            if high <= low:
                return RollupReport(claimed=True, last_event_id=low)
            DirtyHour.objects.all().delete()
            DirtyDay.objects.all().delete()
            _mark_dirty_hours(cursor, low, high)
            days = _mark_dirty_days()
            if connection.vendor == "postgresql":
                cursor.execute("ANALYZE usage_dirtyhour, usage_dirtyday")
            _rebuild(cursor)
            _touch_activity(cursor, low, high)
            cursor.execute("SELECT count(*) FROM usage_dirtyhour")
            hours = cursor.fetchone()[0]
        DirtyHour.objects.all().delete()
        DirtyDay.objects.all().delete()
        state.last_event_id = high
        state.updated_at = timezone.now()
        state.save(update_fields=["last_event_id", "updated_at"])
    return RollupReport(claimed=True, events=high - low, hours=hours, days=days, last_event_id=high)


def rollup_until_caught_up() -> list[RollupReport]:
    reports = []
    while True:
        report = rollup_run()
        reports.append(report)
        if not report.claimed or report.events == 0:
            return reports
