"""Monthly range partitions of usage_usageevent on PostgreSQL (nothing to do on SQLite).

Partitions are created ahead by a daily task; a DEFAULT partition catches anything outside them
so that ingestion never fails for want of a partition. Retention drops whole months, and prunes
the de-duplication keys (usage_ingestedrequest) of events older than the retention period.
"""

from datetime import date, datetime

from django.db import connection

from .models import IngestedRequest

TABLE = "usage_usageevent"


def _month_start(day: date, offset: int = 0) -> date:
    index = day.year * 12 + (day.month - 1) + offset
    return date(index // 12, index % 12 + 1, 1)


def partition_name(month: date) -> str:
    return f"{TABLE}_y{month.year:04d}m{month.month:02d}"


def is_partitioned() -> bool:
    return connection.vendor == "postgresql"


def ensure_partitions(today: date, *, months_back: int, months_ahead: int) -> list[str]:
    """Create the monthly partitions from `months_back` before to `months_ahead` after today."""
    if not is_partitioned():
        return []
    created = []
    with connection.cursor() as cursor:
        for offset in range(-months_back, months_ahead + 1):
            start = _month_start(today, offset)
            end = _month_start(start, 1)
            name = partition_name(start)
            cursor.execute("SELECT to_regclass(%s)", [name])
            if cursor.fetchone()[0] is not None:
                continue
            # Names come from dates, never from input: safe to format into DDL.
            cursor.execute(
                f"CREATE TABLE {name} PARTITION OF {TABLE} "  # noqa: S608
                f"FOR VALUES FROM ('{start.isoformat()}') TO ('{end.isoformat()}')"
            )
            created.append(name)
    return created


def drop_partitions_before(cutoff: date) -> list[str]:
    """Drop every monthly partition that ends on or before the month of `cutoff`."""
    if not is_partitioned():
        return []
    first_kept = _month_start(cutoff)
    dropped = []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = %s",
            [TABLE],
        )
        for (name,) in cursor.fetchall():
            suffix = name.removeprefix(f"{TABLE}_y")
            if suffix == name or "m" not in suffix:
                continue  # the default partition
            year, month = suffix.split("m")
            if date(int(year), int(month), 1) < first_kept:
                cursor.execute(f"DROP TABLE {name}")
                dropped.append(name)
    return dropped


def prune_ingested_requests(cutoff: datetime, *, batch: int = 50_000) -> int:
    """Delete the de-duplication keys of events that occurred before `cutoff`.

    Ingestion refuses an event older than the retention period, so a key older than it can no
    longer stop anything: dropping it bounds the table by retention x event rate. Deleted in
    batches of `batch` rows, each its own transaction, so no run holds a long lock.
    """
    deleted = 0
    while True:
        ids = list(
            IngestedRequest.objects.filter(occurred_at__lt=cutoff).values_list("pk", flat=True)[
                :batch
            ]
        )
        if not ids:
            return deleted
        deleted += IngestedRequest.objects.filter(pk__in=ids).delete()[0]
