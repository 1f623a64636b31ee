"""Monthly range partitions on PostgreSQL of the events (usage_usageevent, by `occurred_at`) and
of their de-duplication keys (usage_ingestedrequest, by `occurred_on`); nothing on SQLite.

Partitions are created ahead by a daily task; a DEFAULT partition catches anything outside them
so that ingestion never fails for want of a partition. Retention drops whole months of both
tables together; on SQLite (the demo) old keys are deleted row by row instead.
"""

from datetime import date

from django.db import connection

from .models import IngestedRequest

TABLE = "usage_usageevent"
KEYS_TABLE = "usage_ingestedrequest"
# (name of the partitions, table they belong to): both tables are cut into the same months.
PARTITIONED = ((TABLE, TABLE), (KEYS_TABLE, KEYS_TABLE))


def _month_start(day: date, offset: int = 0) -> date:
    index = day.year * 12 + (day.month - 1) + offset
    return date(index // 12, index % 12 + 1, 1)


def partition_name(month: date, table: str = TABLE) -> str:
    return f"{table}_y{month.year:04d}m{month.month:02d}"


def is_partitioned() -> bool:
    return connection.vendor == "postgresql"


def ensure_partitions(
    today: date, *, months_back: int, months_ahead: int, tables=PARTITIONED
) -> list[str]:
    """Create the monthly partitions from `months_back` before to `months_ahead` after today."""
    if not is_partitioned():
        return []
    created = []
    with connection.cursor() as cursor:
        # Migrations before usage 0009 run as the owner and create partitions themselves.
        cursor.execute("SELECT to_regprocedure('usage_partition_create(text, date)') IS NOT NULL")
        through_function = cursor.fetchone()[0]
        for prefix, parent in tables:
            for offset in range(-months_back, months_ahead + 1):
                start = _month_start(today, offset)
                end = _month_start(start, 1)
                name = partition_name(start, prefix)
                if through_function and prefix == parent:
                    # The application's role owns no table: the owner's function creates it.
                    cursor.execute("SELECT usage_partition_create(%s, %s)", [parent, start])
                    if cursor.fetchone()[0]:
                        created.append(name)
                    continue
                cursor.execute("SELECT to_regclass(%s)", [name])
                if cursor.fetchone()[0] is not None:
                    continue
                # Names come from dates and constants, never from input: safe to format into DDL.
                cursor.execute(
                    f"CREATE TABLE {name} PARTITION OF {parent} "  # noqa: S608
                    f"FOR VALUES FROM ('{start.isoformat()}') TO ('{end.isoformat()}')"
                )
                created.append(name)
    return created


def drop_partitions_before(cutoff: date) -> list[str]:
    """Drop every monthly partition (events and keys) that ends on or before the month of
    `cutoff`."""
    if not is_partitioned():
        return []
    first_kept = _month_start(cutoff)
    dropped = []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, p.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = ANY(%s) ORDER BY 1",
            [[parent for _, parent in PARTITIONED]],
        )
        for name, parent in cursor.fetchall():
            suffix = name.removeprefix(f"{parent}_y")
            if suffix == name or "m" not in suffix:
                continue  # the default partition
            year, month = suffix.split("m")
            if date(int(year), int(month), 1) < first_kept:
                cursor.execute("SELECT usage_partition_drop(%s)", [name])
                dropped.append(name)
    return dropped


def prune_ingested_requests(cutoff: date, *, batch: int = 50_000) -> int:
    """Delete the de-duplication keys of events that occurred before the day `cutoff` (SQLite;
    on PostgreSQL `drop_partitions_before` drops them with their month's events).

    Ingestion refuses an event older than the retention period, so a key older than it can no
    longer stop anything: dropping it bounds the table by retention x event rate. Deleted in
    batches of `batch` rows, each its own transaction, so no run holds a long lock.
    """
    if is_partitioned():
        return 0
    deleted = 0
    while True:
        old = IngestedRequest.objects.filter(occurred_on__lt=cutoff)
        keys = list(old.values_list("pk", flat=True)[:batch])
        if not keys:
            return deleted
        deleted += IngestedRequest.objects.filter(pk__in=keys).delete()[0]
