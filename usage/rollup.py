"""The incremental rollup: new raw events are merged into the daily rollups.

How it stays correct and cheap:
- A cursor (RollupState.last_event_id) walks the event id sequence. Each chunk of at most
  CHUNK_EVENTS ids is one transaction that claims the state row with SELECT .. FOR UPDATE SKIP
  LOCKED (a second worker backs off), merges the chunk and moves the cursor: a crash leaves the
  cursor where it was and the rollups untouched, and no events are ever folded in twice.
- The high-water mark is read while holding an advisory lock that every ingest transaction holds
  in shared mode: once we get it exclusively, every id up to max(id) belongs to a finished
  transaction, so no event can appear later below the mark.
- Only the chunk's events are read (an index range scan on id). They are aggregated once into a
  temporary table, then added to every rollup with INSERT .. ON CONFLICT DO UPDATE (sums add).
  Latency percentiles come from log-bucketed histograms (usage.sketch) that merge by adding
  counts, so a late event for an old day costs what a recent one costs.
A run goes on chunk after chunk until it is caught up, has read `max_events` or has spent
RUN_SECONDS, so a run stays far below the Celery time limit; beat starts the next one.
"""

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone

from organizations.models import Organization
from organizations.services import memberships_touch_activity

from . import sketch
from .ingest import INGEST_LOCK_KEY
from .models import HOURS, RollupState, hour_column

CHUNK_EVENTS = 250_000
RUN_SECONDS = 60.0
VERSION_EVERY_SECONDS = 5.0
BATCH = "usage_rollup_batch"
LATENCY_BATCH = "usage_rollup_latency"
ROWS = "usage_rollup_rows"

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
    "SUM(CASE WHEN e.status = 'error' THEN 1 ELSE 0 END)",
    "SUM(e.input_tokens)",
    "SUM(e.output_tokens)",
    "SUM(e.cache_read_tokens)",
    "SUM(e.cache_write_tokens)",
    "SUM(e.cost_microdollars)",
)
# (table, keys): every rollup the Usage tab reads, finest first. Each row is one local day and
# also counts its requests per local hour (the weekly pattern), so there are no hourly rows.
DAILY_TABLES = (
    ("usage_dailyrollup", ("user_id", "model", "provider")),
    ("usage_modeldailyrollup", ("model", "provider")),
    ("usage_memberdailyrollup", ("user_id",)),
    ("usage_orgdailyrollup", ()),
)
HOUR_COLUMNS = tuple(hour_column(hour) for hour in HOURS)
EVENT_COLUMNS = (
    "organization_id",
    "occurred_at",
    "user_id",
    "model",
    "provider",
    "status",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cost_microdollars",
    "latency_ms",
)
# Model latency histograms per week (whole weeks of a window are read from here).
WEEKLY_LATENCY = ("usage_modelweeklylatency", ("model", "provider"))
# Rollups that carry a latency histogram (and the percentiles read from it).
LATENCY_TABLES = (
    ("usage_dailyrollup", ("user_id", "model", "provider")),
    ("usage_modeldailyrollup", ("model", "provider")),
)


@dataclass(frozen=True)
class RollupReport:
    claimed: bool
    events: int = 0  # events merged (counted, not an id range)
    chunks: int = 0
    days: int = 0  # distinct organization x local day buckets touched
    last_event_id: int = 0
    organizations: tuple[int, ...] = ()  # whose rollups the chunk changed
    # (organization, earliest local day the chunk touched): see SETTLED_AFTER_DAYS
    earliest_days: tuple[tuple[int, date], ...] = ()


def _postgres() -> bool:
    return connection.vendor == "postgresql"


def _high_water_mark(cursor) -> int:  # noqa: ANN001
    if _postgres():
        cursor.execute("SELECT pg_advisory_lock(%s)", [INGEST_LOCK_KEY])
        try:
            cursor.execute("SELECT coalesce(max(id), 0) FROM usage_usageevent")
            return cursor.fetchone()[0]
        finally:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [INGEST_LOCK_KEY])
    cursor.execute("SELECT coalesce(max(id), 0) FROM usage_usageevent")
    return cursor.fetchone()[0]


def _event_buckets() -> tuple[str, str]:
    """SQL for an event's local day and local hour (0-23) in its organization's time zone."""
    zone = "COALESCE(o.time_zone, 'UTC')"
    if _postgres():
        local = f"(e.occurred_at AT TIME ZONE {zone})"
        return f"{local}::date", f"CAST(extract(hour FROM {local}) AS INTEGER)"
    # SQLite (the demo): Django registers these functions on every connection.
    return (
        f"django_datetime_cast_date(e.occurred_at, {zone}, 'UTC')",
        f"django_datetime_extract('hour', e.occurred_at, {zone}, 'UTC')",
    )


def _stage(cursor, low: int, high: int) -> None:  # noqa: ANN001
    """Aggregate the chunk's events once: sums and hourly counts per finest day bucket, and
    latency counts per day bucket.

    The inner SELECT computes each event's local day and hour once; OFFSET 0 keeps PostgreSQL
    from folding it into the aggregate, which would convert every event's time zone once per
    hour column.
    """
    day, hour = _event_buckets()
    events = (
        f"(SELECT {', '.join(f'e.{c}' for c in EVENT_COLUMNS)}, {day} AS day, "  # noqa: S608
        f"{hour} AS local_hour "
        "FROM usage_usageevent e LEFT JOIN organizations_organization o "
        "ON o.id = e.organization_id WHERE e.id > %s AND e.id <= %s"
        f"{' OFFSET 0' if _postgres() else ''}) e"
    )
    hourly = ", ".join(
        f"SUM(CASE WHEN e.local_hour = {hour} THEN 1 ELSE 0 END) AS {column}"
        for hour, column in zip(HOURS, HOUR_COLUMNS, strict=True)
    )
    for table in (BATCH, LATENCY_BATCH):
        cursor.execute(f"DROP TABLE IF EXISTS {table}")
    cursor.execute(
        f"CREATE TEMPORARY TABLE {BATCH} AS "  # noqa: S608
        "SELECT e.organization_id, e.day, e.user_id, e.model, e.provider, "
        f"{', '.join(f'{s} AS {m}' for s, m in zip(RAW_SUMS, METRICS, strict=True))}, "
        f"{hourly}, MAX(e.occurred_at) AS last_seen FROM {events} "
        "GROUP BY e.organization_id, e.day, e.user_id, e.model, e.provider",
        [low, high],
    )
    cursor.execute(
        f"CREATE TEMPORARY TABLE {LATENCY_BATCH} AS "  # noqa: S608
        "SELECT e.organization_id, e.day, e.user_id, e.model, e.provider, "
        f"{sketch.bucket_sql('e.latency_ms')} AS bucket, COUNT(*) AS n FROM {events} "
        "GROUP BY e.organization_id, e.day, e.user_id, e.model, e.provider, 6",
        [low, high],
    )
    if _postgres():
        # Temporary tables get no statistics from autovacuum: without them the planner guesses
        # one row and joins the histogram merge by nested loops over the whole rollup (40x).
        for table in (BATCH, LATENCY_BATCH):
            cursor.execute(f"ANALYZE {table}")


def _merge_sums(cursor, table: str, keys: tuple[str, ...]) -> None:  # noqa: ANN001
    """Add the chunk's sums and hourly counts to one rollup table (rows created on first sight).

    For a rollup with latency histograms, the ids of the rows it touched are kept in ROWS with
    their keys, so the histogram merge joins two small temporary tables (work that follows the
    new events) instead of looking every key up in the whole rollup.
    """
    group = ", ".join(["organization_id", "day", *keys])
    added = (*METRICS, *HOUR_COLUMNS)
    updates = ", ".join(f"{m} = {table}.{m} + excluded.{m}" for m in added)
    # Columns filled in later in the chunk (Django defaults are not database defaults).
    later = {"latency_histogram": "'{}'", "latency_p50_ms": "0", "latency_p95_ms": "0"}
    if table == "usage_orgdailyrollup":
        later = {"active_users": "0"}
    elif table not in dict(LATENCY_TABLES):
        later = {}
    upsert = (
        f"INSERT INTO {table} ({group}, {', '.join([*added, *later])}) "  # noqa: S608
        f"SELECT {group}, {', '.join([*(f'SUM({m})' for m in added), *later.values()])} "
        f"FROM {BATCH} WHERE 1 = 1 GROUP BY {group} ON CONFLICT ({group}) DO UPDATE SET {updates}"
    )
    if not later or table == "usage_orgdailyrollup":
        cursor.execute(upsert)
        return
    cursor.execute(f"DROP TABLE IF EXISTS {ROWS}")
    cursor.execute(f"CREATE TEMPORARY TABLE {ROWS} AS SELECT id, {group} FROM {table} WHERE 1 = 0")  # noqa: S608
    if _postgres():
        cursor.execute(
            f"WITH touched AS ({upsert} RETURNING id, {group}) "  # noqa: S608
            f"INSERT INTO {ROWS} SELECT * FROM touched"
        )
        cursor.execute(f"ANALYZE {ROWS}")
        return
    # SQLite (the demo) has no INSERT in WITH: find the rows by their keys (small tables there).
    cursor.execute(upsert)
    match = " AND ".join(f"r.{k} = b.{k}" for k in ["organization_id", "day", *keys])
    cursor.execute(
        f"INSERT INTO {ROWS} SELECT r.id, {', '.join(f'r.{k}' for k in group.split(', '))} "  # noqa: S608
        f"FROM {table} r JOIN (SELECT DISTINCT {group} FROM {BATCH}) b ON {match}"
    )


def _week_sql(day: str) -> str:
    """The Monday starting the week of a local day."""
    if _postgres():
        return f"CAST(date_trunc('week', {day}) AS DATE)"
    return f"date({day}, 'weekday 0', '-6 days')"  # SQLite: the next Sunday (or itself), less 6


def _merge_latency(cursor, table: str, keys: tuple[str, ...], period: str = "day") -> None:  # noqa: ANN001
    """Add the chunk's latency counts to the stored histograms (and re-read p50/p95 from them
    where the table keeps percentiles).

    Runs right after the table's rows were merged: ROWS holds the id of every touched row, so
    the work is keyed by row id (narrow integer sorts) and the UPDATE finds rows by primary key.
    """
    each, object_agg = (
        ("jsonb_each_text", "jsonb_object_agg")
        if _postgres()
        else ("json_each", "json_group_object")
    )
    fresh_period = "f.day" if period == "day" else _week_sql("f.day")
    match = " AND ".join(
        [f"r.{period} = {fresh_period}", *(f"r.{k} = f.{k}" for k in ["organization_id", *keys])]
    )
    percentiles = period == "day"
    cursor.execute(
        f"WITH fresh AS (SELECT r.id, f.bucket, SUM(f.n) AS n FROM {LATENCY_BATCH} f "  # noqa: S608
        f"JOIN {ROWS} r ON {match} GROUP BY r.id, f.bucket), "
        "stored AS (SELECT r.id, CAST(h.key AS INTEGER) AS bucket, CAST(h.value AS BIGINT) AS n "
        f"FROM {table} r CROSS JOIN {each}(r.latency_histogram) h "
        f"WHERE r.id IN (SELECT id FROM {ROWS})), "
        "summed AS (SELECT id, bucket, SUM(n) AS n FROM "
        "(SELECT * FROM fresh UNION ALL SELECT * FROM stored) u GROUP BY id, bucket), "
        "ranked AS (SELECT id, bucket, n, SUM(n) OVER (PARTITION BY id ORDER BY bucket) AS seen, "
        "SUM(n) OVER (PARTITION BY id) AS total FROM summed), "
        f"merged AS (SELECT id, {object_agg}(CAST(bucket AS TEXT), n) AS histogram, "
        "MIN(CASE WHEN seen * 100 >= total * 50 THEN bucket END) AS b50, "
        "MIN(CASE WHEN seen * 100 >= total * 95 THEN bucket END) AS b95 "
        "FROM ranked GROUP BY id) "
        f"UPDATE {table} SET latency_histogram = m.histogram"
        + (
            f", latency_p50_ms = {sketch.value_sql('m.b50')}, "
            f"latency_p95_ms = {sketch.value_sql('m.b95')}"
            if percentiles
            else ""
        )
        + f" FROM merged m WHERE {table}.id = m.id"
    )
    cursor.execute(f"DROP TABLE {ROWS}")


def _merge_weekly_latency(cursor) -> None:  # noqa: ANN001
    """Fold the chunk's latency counts into the model x week histograms as well."""
    table, keys = WEEKLY_LATENCY
    group = ", ".join(["organization_id", "week", *keys])
    cursor.execute(
        f"INSERT INTO {table} ({group}, latency_histogram) "  # noqa: S608
        f"SELECT organization_id, {_week_sql('day')}, {', '.join(keys)}, '{{}}' "
        f"FROM {LATENCY_BATCH} WHERE 1 = 1 GROUP BY organization_id, 2, {', '.join(keys)} "
        f"ON CONFLICT ({group}) DO NOTHING"
    )
    match = " AND ".join(f"r.{k} = b.{k}" for k in ["organization_id", "week", *keys])
    cursor.execute(
        f"CREATE TEMPORARY TABLE {ROWS} AS SELECT r.id, "  # noqa: S608
        f"{', '.join(f'r.{k}' for k in group.split(', '))} FROM {table} r JOIN "
        f"(SELECT DISTINCT organization_id, {_week_sql('day')} AS week, {', '.join(keys)} "
        f"FROM {LATENCY_BATCH}) b ON {match}"
    )
    if _postgres():
        cursor.execute(f"ANALYZE {ROWS}")
    _merge_latency(cursor, table, keys, period="week")


def _count_active_users(cursor) -> None:  # noqa: ANN001
    """Active users per day is a distinct count, not a sum: recount it for the touched days."""
    cursor.execute(
        "UPDATE usage_orgdailyrollup SET active_users = (SELECT COUNT(*) "  # noqa: S608
        "FROM usage_memberdailyrollup m WHERE m.organization_id = usage_orgdailyrollup.organization_id "
        "AND m.day = usage_orgdailyrollup.day AND m.requests > 0) "
        f"WHERE EXISTS (SELECT 1 FROM {BATCH} b WHERE "
        "b.organization_id = usage_orgdailyrollup.organization_id AND b.day = usage_orgdailyrollup.day)"
    )


def _touch_activity(cursor) -> list[int]:  # noqa: ANN001
    cursor.execute(
        f"SELECT organization_id, user_id, MAX(last_seen) FROM {BATCH} "  # noqa: S608
        "GROUP BY organization_id, user_id"
    )
    by_org: dict[int, dict[int, datetime]] = {}
    for org_id, user_id, seen_at in cursor.fetchall():
        if isinstance(seen_at, str):  # SQLite hands back text from a raw aggregate
            seen_at = datetime.fromisoformat(seen_at).replace(tzinfo=UTC)
        by_org.setdefault(org_id, {})[user_id] = seen_at
    for org_id, last_seen in by_org.items():
        memberships_touch_activity(org_id, last_seen)
    return list(by_org)


def _batch_counts(cursor) -> tuple[int, int]:  # noqa: ANN001
    """Events merged (counted, not an id range) and organization x local days touched."""
    cursor.execute(f"SELECT COALESCE(SUM(requests), 0) FROM {BATCH}")  # noqa: S608
    events = int(cursor.fetchone()[0])
    cursor.execute(f"SELECT COUNT(*) FROM (SELECT DISTINCT organization_id, day FROM {BATCH}) x")  # noqa: S608
    return events, cursor.fetchone()[0]


def rollup_version_key(organization_id: int) -> str:
    return f"usage:rollup-version:{organization_id}"


def _token(key: str) -> str:
    """The token stored under `key`, made on first use (the first writer wins a race)."""
    token = cache.get(key)
    if token is None:
        token = uuid.uuid4().hex
        cache.add(key, token, timeout=None)
        token = cache.get(key, token)
    return token


def rollup_version(organization_id: int) -> str:
    """A token that changes whenever the organization's rollups change (cache keys use it)."""
    return _token(rollup_version_key(organization_id))


def _new_tokens(key, organization_ids) -> None:  # noqa: ANN001 - a key function, ids
    if organization_ids:
        cache.set_many({key(org_id): uuid.uuid4().hex for org_id in organization_ids}, timeout=None)


def _bump_versions(organization_ids: list[int] | set[int]) -> None:
    _new_tokens(rollup_version_key, organization_ids)


# Settled days. Live traffic only changes an organization's rollups of its local today and
# yesterday; an older day changes only when late events arrive. Readers may cache what they merged
# from days at least SETTLED_AFTER_DAYS before the organization's local today under the
# organization's settled version, which changes after every chunk that touched such a day, as
# seen after the chunk's commit (a day settled for a reader that cached before the commit is
# settled then too: local today only grows).
SETTLED_AFTER_DAYS = 2


def settled_version_key(organization_id: int) -> str:
    return f"usage:settled-version:{organization_id}"


def settled_version(organization_id: int) -> str:
    """A token that changes whenever a rollup changes one of the organization's settled days."""
    return _token(settled_version_key(organization_id))


def _earliest_days(cursor) -> tuple[tuple[int, date], ...]:  # noqa: ANN001
    """Each organization of the chunk with the earliest local day it touched."""
    cursor.execute(f"SELECT organization_id, MIN(day) FROM {BATCH} GROUP BY organization_id")  # noqa: S608
    return tuple(
        (org_id, date.fromisoformat(day) if isinstance(day, str) else day)
        for org_id, day in cursor.fetchall()
    )


def _settled_days_changed(earliest_days: tuple[tuple[int, date], ...]) -> list[int]:
    """The organizations whose chunk, just committed, changed one of their settled days."""
    if not earliest_days:
        return []
    zones = dict(
        Organization.objects.filter(pk__in=[org_id for org_id, _ in earliest_days]).values_list(
            "pk", "time_zone"
        )
    )
    now = timezone.now()
    return [
        org_id
        for org_id, day in earliest_days
        if org_id in zones
        and day <= now.astimezone(ZoneInfo(zones[org_id])).date() - timedelta(SETTLED_AFTER_DAYS)
    ]


class _VersionBumps:
    """Changes an organization's rollup version after a chunk commits, at most every
    VERSION_EVERY_SECONDS within a run, and always at the run's end.

    Under continuous ingestion a run merges chunk after chunk, a fraction of a second apart;
    changing the version each time would make every page view a fresh build. Pages may lag the
    rollups by up to VERSION_EVERY_SECONDS during a run and never after it.
    """

    def __init__(self) -> None:
        self.bumped_at: dict[int, float] = {}
        self.pending: set[int] = set()

    def chunk_committed(self, organization_ids: list[int]) -> None:
        now = time.monotonic()
        due = {
            org_id
            for org_id in organization_ids
            if now - self.bumped_at.get(org_id, -VERSION_EVERY_SECONDS) >= VERSION_EVERY_SECONDS
        }
        _bump_versions(due)
        self.bumped_at.update(dict.fromkeys(due, now))
        self.pending = (self.pending | set(organization_ids)) - due

    def run_ended(self) -> None:
        _bump_versions(self.pending)
        self.pending = set()


def _rollup_chunk(chunk_events: int) -> RollupReport | None:
    """Merge the next chunk in one transaction. None when another worker holds the cursor."""
    with transaction.atomic():
        state = RollupState.objects.select_for_update(skip_locked=True).filter(pk=1).first()
        if state is None:
            return None
        low = state.last_event_id
        with connection.cursor() as cursor:
            if _postgres():  # the chunk's sorts and hashes fit in memory instead of spilling
                cursor.execute("SET LOCAL work_mem = '64MB'")
            mark = _high_water_mark(cursor)
            # Start at the next stored event, so that a gap in the ids costs nothing.
            cursor.execute(
                "SELECT min(id) FROM usage_usageevent WHERE id > %s AND id <= %s", [low, mark]
            )
            first = cursor.fetchone()[0]
            if first is None:
                return RollupReport(claimed=True, last_event_id=low)
            high = min(mark, first - 1 + chunk_events)
            _stage(cursor, low, high)
            for table, keys in DAILY_TABLES:
                _merge_sums(cursor, table, keys)
                if table in dict(LATENCY_TABLES):
                    _merge_latency(cursor, table, keys)
            _merge_weekly_latency(cursor)
            _count_active_users(cursor)
            events, days = _batch_counts(cursor)
            earliest_days = _earliest_days(cursor)
            organizations = _touch_activity(cursor)
            for table in (BATCH, LATENCY_BATCH):
                cursor.execute(f"DROP TABLE {table}")
        state.last_event_id = high
        state.updated_at = timezone.now()
        state.save(update_fields=["last_event_id", "updated_at"])
    return RollupReport(
        claimed=True,
        events=events,
        chunks=1,
        days=days,
        last_event_id=high,
        organizations=tuple(organizations),
        earliest_days=earliest_days,
    )


def rollup_run(
    *,
    max_events: int = 2_000_000,
    chunk_events: int = CHUNK_EVENTS,
    max_seconds: float = RUN_SECONDS,
) -> RollupReport:
    """Merge events past the cursor, chunk by chunk, until caught up or out of budget."""
    RollupState.objects.get_or_create(pk=1)
    began = time.monotonic()
    events = chunks = days = 0
    last_event_id = 0
    versions = _VersionBumps()
    while True:
        budget = min(chunk_events, max_events - events) if max_events else chunk_events
        report = _rollup_chunk(max(budget, 1))
        if report is None:
            if chunks == 0:
                return RollupReport(claimed=False)  # another worker is rolling up right now
            break
        last_event_id = report.last_event_id
        if not report.chunks:
            break
        # After the commit: a page built from here on sees the merged rows under a new version.
        versions.chunk_committed(list(report.organizations))
        # Never deferred: late events are rare, and a reader must not keep a settled merge
        # that no longer holds.
        _new_tokens(settled_version_key, _settled_days_changed(report.earliest_days))
        events += report.events
        chunks += 1
        days += report.days
        if events >= max_events or time.monotonic() - began >= max_seconds:
            break
    versions.run_ended()
    return RollupReport(
        claimed=True,
        events=events,
        chunks=chunks,
        days=days,
        last_event_id=last_event_id,
    )


def rollup_until_caught_up() -> list[RollupReport]:
    reports = []
    while True:
        report = rollup_run()
        reports.append(report)
        if not report.claimed or report.events == 0:
            return reports
