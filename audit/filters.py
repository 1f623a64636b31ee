"""The Audit logs tab's filters, read from the URL (so a filtered view can be linked and exported).

Bad values do not fail the page: each is dropped with a message saying what was wrong, and the
rest of the filters still apply.
"""

import base64
import binascii
import zoneinfo
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.utils import timezone

from .actions import CATALOGUE, Category

DEFAULT_DAYS = 30
MAX_QUERY_LENGTH = 100


@dataclass(frozen=True)
class Cursor:
    """The last row shown: the next page starts strictly before (created_at, id)."""

    created_at: datetime
    id: int

    def encode(self) -> str:
        raw = f"{self.created_at.isoformat()}|{self.id}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, value: str) -> "Cursor":
        """Raises ValueError for anything that is not a cursor this page made."""
        try:
            raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
            moment, _, pk = raw.partition("|")
            created_at = datetime.fromisoformat(moment)
            if created_at.tzinfo is None:
                raise ValueError("naive time")
            return cls(created_at, int(pk))
        except (binascii.Error, UnicodeDecodeError, ValueError) as error:
            raise ValueError(
                "This page link is damaged; start again from the newest events."
            ) from error


@dataclass(frozen=True)
class AuditFilters:
    start: date
    end: date  # inclusive, local date
    time_zone: str
    action: str = ""
    category: str = ""
    member: str = ""  # a Membership public_id
    query: str = ""
    cursor: Cursor | None = None
    errors: tuple[str, ...] = field(default=())

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)

    @property
    def since(self) -> datetime:
        return datetime.combine(self.start, time.min, tzinfo=self.tz)

    @property
    def until(self) -> datetime:
        """Exclusive: local midnight after the end date."""
        return datetime.combine(self.end + timedelta(days=1), time.min, tzinfo=self.tz)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def as_params(self, *, cursor: bool = False) -> dict[str, str]:
        """The filters as a query string (links, exports, the audit record of an export)."""
        params = {"start": self.start.isoformat(), "end": self.end.isoformat()}
        for key, value in (
            ("action", self.action),
            ("category", self.category),
            ("member", self.member),
            ("q", self.query),
        ):
            if value:
                params[key] = value
        if cursor and self.cursor:
            params["cursor"] = self.cursor.encode()
        return params


def local_today(time_zone: str, now: datetime | None = None) -> date:
    return (now or timezone.now()).astimezone(zoneinfo.ZoneInfo(time_zone)).date()


def _date(value: str | None, name: str, errors: list[str]) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        errors.append(f"“{value[:20]}” is not a date for {name}; use YYYY-MM-DD.")
        return None


def parse_filters(params, *, time_zone: str, now: datetime | None = None) -> AuditFilters:  # noqa: ANN001
    """Raises ValueError only for a damaged cursor (the caller answers 400)."""
    errors: list[str] = []
    today = local_today(time_zone, now)
    start = _date(params.get("start"), "From", errors)
    end = _date(params.get("end"), "To", errors) or today
    if start is None:
        start = end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        errors.append("“From” is after “To”; showing the 30 days up to “To”.")
        start = end - timedelta(days=DEFAULT_DAYS - 1)
    action = params.get("action") or ""
    if action and action not in CATALOGUE:
        errors.append(f"“{action[:64]}” is not an audit action; showing all actions.")
        action = ""
    category = params.get("category") or ""
    if category and category not in {c.value for c in Category}:
        errors.append(f"“{category[:40]}” is not a category; showing all categories.")
        category = ""
    query = (params.get("q") or "").strip()
    if len(query) > MAX_QUERY_LENGTH:
        errors.append(f"The search text was cut to {MAX_QUERY_LENGTH} characters.")
        query = query[:MAX_QUERY_LENGTH]
    cursor = Cursor.decode(params["cursor"]) if params.get("cursor") else None
    return AuditFilters(
        start=start,
        end=end,
        time_zone=time_zone,
        action=action,
        category=category,
        member=(params.get("member") or "")[:36],
        query=query,
        cursor=cursor,
        errors=tuple(errors),
    )
