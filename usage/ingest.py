"""Ingestion: validate a batch of usage events and store the valid ones, once per request id.

One function, `ingest_events`, serves the HTTP API, `manage.py import_usage` and the demo seed.
Each event is checked on its own (a bad one is reported with its index and reason while the good
ones are stored); the batch is written in one transaction, so nothing is ever half-written.
On PostgreSQL the fast path de-duplicates with one INSERT .. ON CONFLICT .. RETURNING and writes
the events with COPY.
"""

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from organizations.selectors import member_user_ids_by_email

from .catalog import PriceBook
from .models import IngestedRequest

MAX_TOKENS = 1_000_000_000
MAX_COST = 1_000_000_000_000  # one million dollars in microdollars: surely a typo beyond that
MAX_LATENCY_MS = 3_600_000
# Python refuses to turn over 4,300 digits into an int (a ValueError for the whole body). Such a
# body is parsed again with longer digit strings than any field allows left as OversizedNumber,
# which rejects only its event; the usual body takes json's fast path with no hook.
MAX_INTEGER_DIGITS = 20
# What PostgreSQL text cannot store (NUL), what UTF-8 cannot encode (lone surrogates, which JSON's
# \ud800 escapes produce) and other control characters, none of which belongs in an identifier.
UNSTORABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
FUTURE_TOLERANCE = timedelta(minutes=5)
# The rollup's high-water mark waits for ingest transactions holding this lock (shared).
INGEST_LOCK_KEY = 0x4B494C4F  # "KILO"

COLUMNS = (
    "organization_id",
    "occurred_at",
    "received_at",
    "request_id",
    "user_id",
    "user_email",
    "model",
    "provider",
    "feature",
    "project",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cost_microdollars",
    "cost_from_catalog",
    "latency_ms",
    "status",
    "error_code",
)


class MalformedBody(ValueError):
    """The body is not a JSON array nor NDJSON: nothing was stored."""


class TooManyEvents(ValueError):
    pass


class OversizedNumber:
    """Stands in for an integer with more digits than any field accepts (rejected per event)."""

    def __init__(self, text: str) -> None:
        self.digits = len(text.lstrip("-"))


def _parse_int(text: str) -> int | OversizedNumber:
    return int(text) if len(text) <= MAX_INTEGER_DIGITS else OversizedNumber(text)


def _loads(text: str) -> object:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise
    except ValueError:  # "Exceeds the limit (4300 digits) for integer string conversion"
        return json.loads(text, parse_int=_parse_int)


@dataclass
class Rejection:
    index: int
    field: str
    reason: str


@dataclass
class IngestResult:
    accepted: int = 0
    duplicate: int = 0
    rejected: int = 0
    errors: list[Rejection] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "accepted": self.accepted,
            "duplicate": self.duplicate,
            "rejected": self.rejected,
            "errors": [vars(error) for error in self.errors],
        }


def parse_body(body: bytes) -> list:
    """A JSON array, or NDJSON (one JSON object per line). Raises MalformedBody."""
    text = body.decode("utf-8", errors="strict") if body else ""
    stripped = text.strip()
    if not stripped:
        raise MalformedBody("The body is empty: send a JSON array of events or NDJSON.")
    try:
        if stripped[0] == "[":
            data = _loads(stripped)
            if not isinstance(data, list):
                raise MalformedBody("Expected a JSON array of events.")
            return data
        # NDJSON lines end with \n only: splitlines() would also cut at U+2028 inside a string.
        return [_loads(line) for line in stripped.split("\n") if line.strip()]
    except json.JSONDecodeError as error:
        raise MalformedBody(f"Malformed JSON: {error.msg} (line {error.lineno}).") from None
    except RecursionError:
        # An event is a flat object: arrays or objects nested hundreds deep are never one.
        raise MalformedBody("Malformed JSON: nested too deeply.") from None


class _Invalid(Exception):
    def __init__(self, field_name: str, reason: str) -> None:
        self.field = field_name
        self.reason = reason


def _text(event: dict, name: str, max_length: int, *, required: bool) -> str:
    value = event.get(name)
    if value is None or value == "":
        if required:
            raise _Invalid(name, "is required")
        return ""
    if not isinstance(value, str):
        raise _Invalid(name, "must be a string")
    if UNSTORABLE.search(value):
        raise _Invalid(name, "must not contain control characters (such as NUL)")
    value = value.strip()
    if required and not value:
        raise _Invalid(name, "is required")
    if len(value) > max_length:
        raise _Invalid(name, f"must be at most {max_length} characters")
    return value


def _integer(event: dict, name: str, maximum: int, *, required: bool) -> int | None:
    value = event.get(name)
    if value is None:
        if required:
            raise _Invalid(name, "is required")
        return None
    if isinstance(value, OversizedNumber):
        raise _Invalid(name, f"must be between 0 and {maximum:,} (got {value.digits:,} digits)")
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Invalid(name, "must be a whole number")
    if value < 0 or value > maximum:
        raise _Invalid(name, f"must be between 0 and {maximum:,}")
    return value


def _timestamp(event: dict, now: datetime, oldest: datetime) -> datetime:
    value = event.get("occurred_at")
    if value is None or value == "":
        raise _Invalid("occurred_at", "is required")
    if not isinstance(value, str):
        raise _Invalid("occurred_at", "must be an ISO 8601 string")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise _Invalid("occurred_at", "must be an ISO 8601 date and time") from None
    if parsed.tzinfo is None:
        raise _Invalid("occurred_at", "must include a time zone offset (e.g. Z or +02:00)")
    try:
        parsed = parsed.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:59:59-23:59 is past the last representable instant
        raise _Invalid("occurred_at", "is out of range") from None
    if parsed > now + FUTURE_TOLERANCE:
        raise _Invalid("occurred_at", "is in the future")
    if parsed < oldest:
        raise _Invalid("occurred_at", "is older than the retention period")
    return parsed


def _validate(
    event: object, now: datetime, oldest: datetime, members: dict[str, int], prices: PriceBook
) -> tuple:
    if not isinstance(event, dict):
        raise _Invalid("", "must be a JSON object")
    request_id = _text(event, "request_id", 128, required=True)
    occurred_at = _timestamp(event, now, oldest)
    email = _text(event, "user_email", 254, required=True).lower()
    user_id = members.get(email)
    if user_id is None:
        raise _Invalid("user_email", "is not a member of this organization")
    model = _text(event, "model", 128, required=True)
    provider = _text(event, "provider", 64, required=True)
    feature = _text(event, "feature", 64, required=False)
    project = _text(event, "project", 128, required=False)
    input_tokens = _integer(event, "input_tokens", MAX_TOKENS, required=True)
    output_tokens = _integer(event, "output_tokens", MAX_TOKENS, required=True)
    cache_read = _integer(event, "cache_read_tokens", MAX_TOKENS, required=False) or 0
    cache_write = _integer(event, "cache_write_tokens", MAX_TOKENS, required=False) or 0
    latency_ms = _integer(event, "latency_ms", MAX_LATENCY_MS, required=True)
    status = event.get("status")
    if status not in ("success", "error"):
        raise _Invalid("status", 'must be "success" or "error"')
    error_code = _text(event, "error_code", 64, required=False)
    if error_code and status != "error":
        raise _Invalid("error_code", 'is only allowed with status "error"')
    cost = _integer(event, "cost_microdollars", MAX_COST, required=False)
    from_catalog = cost is None
    if cost is None:
        price = prices.price_at(provider, model, occurred_at)
        if price is None:
            raise _Invalid(
                "model",
                f"has no catalog price at {provider!r}: send cost_microdollars for it",
            )
        cost = price.cost_microdollars(
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cache_read=cache_read,
            cache_write=cache_write,
        )
    return (
        occurred_at,
        request_id,
        user_id,
        email,
        model,
        provider,
        feature,
        project,
        input_tokens,
        output_tokens,
        cache_read,
        cache_write,
        cost,
        from_catalog,
        latency_ms,
        status,
        error_code,
    )


def _models(events: list) -> set[tuple[str, str]]:
    """The (provider, model) pairs of the events that leave their cost to the catalog."""
    return {
        (e["provider"].strip(), e["model"].strip())
        for e in events
        if isinstance(e, dict)
        and e.get("cost_microdollars") is None
        and isinstance(e.get("provider"), str)
        and isinstance(e.get("model"), str)
        # A name PostgreSQL cannot hold would fail the whole price query; its event is rejected.
        and not UNSTORABLE.search(e["provider"] + e["model"])
    }


def _emails(events: list) -> set[str]:
    # Only addresses that can be looked up: a NUL would make PostgreSQL refuse the whole query.
    return {
        e["user_email"].strip().lower()
        for e in events
        if isinstance(e, dict)
        and isinstance(e.get("user_email"), str)
        and not UNSTORABLE.search(e["user_email"])
    }


def ingest_events(
    *, organization_id: int, events: list, now: datetime | None = None
) -> IngestResult:
    """Validate and store one batch (at most USAGE_INGEST_MAX_EVENTS events)."""
    if len(events) > settings.USAGE_INGEST_MAX_EVENTS:
        raise TooManyEvents(
            f"At most {settings.USAGE_INGEST_MAX_EVENTS:,} events per request, got {len(events):,}."
        )
    now = now or timezone.now()
    oldest = now - timedelta(days=settings.USAGE_RETENTION_DAYS)
    result = IngestResult()
    members = member_user_ids_by_email(organization_id, _emails(events))
    prices = PriceBook(_models(events))
    rows: dict[tuple[date, str], tuple] = {}  # by de-duplication key
    for index, event in enumerate(events):
        try:
            row = _validate(event, now, oldest, members, prices)
        except _Invalid as invalid:
            result.rejected += 1
            result.errors.append(Rejection(index, invalid.field, invalid.reason))
            continue
        key = (_utc_day(row[0]), row[1])
        if key in rows:
            result.duplicate += 1  # the same event earlier in this batch
            continue
        rows[key] = (organization_id, row[0], now, *row[1:])
    if rows:
        with transaction.atomic():
            stored = _store(organization_id, rows)
        result.accepted = stored
        result.duplicate += len(rows) - stored
    return result


def _utc_day(occurred_at: datetime) -> date:
    """The UTC day an event occurred on: with its request id, its de-duplication key (a retry
    carries the event's own timestamp; the same request id on another day is another event)."""
    return occurred_at.astimezone(UTC).date()


def _store(organization_id: int, rows: dict[tuple[date, str], tuple]) -> int:
    if connection.vendor == "postgresql":
        return _store_postgresql(organization_id, rows)
    return _store_generic(organization_id, rows)


def _store_postgresql(organization_id: int, rows: dict[tuple[date, str], tuple]) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock_shared(%s)", [INGEST_LOCK_KEY])
        cursor.execute(
            "INSERT INTO usage_ingestedrequest (organization_id, occurred_on, request_id) "
            "SELECT %s, unnest(%s::date[]), unnest(%s::text[]) "
            "ON CONFLICT DO NOTHING RETURNING occurred_on, request_id",
            [organization_id, [day for day, _ in rows], [request_id for _, request_id in rows]],
        )
        fresh = cursor.fetchall()
        if fresh:
            with cursor.copy(
                f"COPY usage_usageevent ({', '.join(COLUMNS)}) FROM STDIN"  # noqa: S608
            ) as copy:
                for day, request_id in fresh:
                    copy.write_row(rows[day, request_id])
    return len(fresh)


def _store_generic(organization_id: int, rows: dict[tuple[date, str], tuple]) -> int:
    """SQLite (the demo): one writer at a time, so look-then-insert is safe."""
    seen = set(
        IngestedRequest.objects.filter(
            organization_id=organization_id, request_id__in=[request_id for _, request_id in rows]
        ).values_list("occurred_on", "request_id")
    )
    fresh = [key for key in rows if key not in seen]
    adapt = connection.ops.adapt_datetimefield_value
    placeholders = ", ".join(["%s"] * len(COLUMNS))
    with connection.cursor() as cursor:
        # Plain executemany: the ORM's bulk_create costs more than SQLite itself here.
        cursor.executemany(
            "INSERT INTO usage_ingestedrequest (organization_id, occurred_on, request_id) "
            "VALUES (%s, %s, %s)",
            [(organization_id, day.isoformat(), request_id) for day, request_id in fresh],
        )
        cursor.executemany(
            f"INSERT INTO usage_usageevent ({', '.join(COLUMNS)}) VALUES ({placeholders})",  # noqa: S608
            [
                (row[0], adapt(row[1]), adapt(row[2]), *row[3:])
                for row in (rows[key] for key in fresh)
            ],
        )
    return len(fresh)
