"""The Usage tab's filters: parsed from the query string, kept in it so a view can be shared."""

import zoneinfo
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from urllib.parse import urlencode

from django.utils import timezone

RANGES = {
    "period": "This billing period",
    "7d": "Last 7 days",
    "30d": "Last 30 days",
    "90d": "Last 90 days",
    "custom": "Custom",
}
MAX_CUSTOM_DAYS = 400
# A custom range may reach back this far: usage is kept USAGE_RETENTION_DAYS (400) and the
# comparison period before it needs as many days again, all far from date.min.
EARLIEST_CUSTOM_START_DAYS = 800


@dataclass(frozen=True)
class UsageFilters:
    range: str
    start: date  # inclusive, in the organization's time zone
    end: date  # inclusive
    previous_start: date
    previous_end: date
    today: date
    member: str = ""  # membership public id
    user_id: int | None = None  # resolved member, or the viewer when they may see only themselves
    model: str = ""
    provider: str = ""
    own_only: bool = False
    error: str = ""  # why the custom range asked for was not used (shown above the figures)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def label(self) -> str:
        span = f"{self.start:%-d %b} – {self.end:%-d %b %Y}"
        return f"{RANGES.get(self.range, 'Custom')} ({span})"

    @property
    def by_model(self) -> bool:
        return bool(self.model or self.provider)

    def query(self, **overrides: str) -> str:
        params = {"range": self.range, "member": self.member, "model": self.model}
        params["provider"] = self.provider
        if self.range == "custom":
            params |= {"start": self.start.isoformat(), "end": self.end.isoformat()}
        params |= overrides
        return urlencode({k: v for k, v in params.items() if v})

    def with_user(self, user_id: int | None) -> "UsageFilters":
        return replace(self, user_id=user_id)


def _parse_date(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def custom_range_error(start: date | None, end: date | None, today: date) -> str:
    """Why a custom range cannot be shown, or "" when it can."""
    if not start or not end:
        return "Enter both dates of the custom range (YYYY-MM-DD)."
    if start > end:
        return f"The custom range starts ({start}) after it ends ({end})."
    if (end - start).days >= MAX_CUSTOM_DAYS:
        return f"A custom range covers at most {MAX_CUSTOM_DAYS} days; this one has {(end - start).days + 1:,}."
    if start > today:
        return f"The custom range starts in the future ({start})."
    earliest = today - timedelta(days=EARLIEST_CUSTOM_START_DAYS)
    if start < earliest:
        return f"A custom range can start on {earliest} at the earliest."
    return ""


def local_today(time_zone: str, now: datetime | None = None) -> date:
    return (now or timezone.now()).astimezone(zoneinfo.ZoneInfo(time_zone)).date()


def parse_filters(
    params,  # noqa: ANN001
    *,
    time_zone: str,
    now: datetime | None = None,
    billing_period: tuple[date, date] | None = None,
) -> UsageFilters:
    """Unknown values fall back to the defaults rather than failing the page; a custom range that
    cannot be shown falls back too, and `error` says why.

    `billing_period` is the subscription's current period as local dates [start, end); without
    one, "this billing period" is the calendar month in the organization's time zone.
    """
    today = local_today(time_zone, now)
    range_key = params.get("range") if params.get("range") in RANGES else "period"
    error = ""
    if range_key == "custom":
        start, end = _parse_date(params.get("start")), _parse_date(params.get("end"))
        error = custom_range_error(start, end, today)
        if error:
            range_key = "period"
        else:
            end = min(end, today)
    if range_key == "period" and billing_period and billing_period[0] <= today:
        period_start, period_end = billing_period
        start, end = period_start, min(today, period_end - timedelta(days=1))
        # Period to date against the same number of days of the period before, of equal length.
        previous_start = period_start - (period_end - period_start)
        previous_end = min(previous_start + (end - start), start - timedelta(days=1))
    elif range_key == "period":
        start, end = today.replace(day=1), today
        previous_start = (start - timedelta(days=1)).replace(day=1)
        # Month to date against the same number of days of the previous month.
        previous_end = min(previous_start + (end - start), start - timedelta(days=1))
    else:
        if range_key != "custom":
            end = today
            start = end - timedelta(days={"7d": 6, "30d": 29, "90d": 89}[range_key])
        length = (end - start).days + 1
        previous_end = start - timedelta(days=1)
        previous_start = previous_end - timedelta(days=length - 1)
    return UsageFilters(
        range=range_key,
        start=start,
        end=end,
        previous_start=previous_start,
        previous_end=previous_end,
        today=today,
        member=(params.get("member") or "")[:36],
        model=(params.get("model") or "")[:128],
        provider=(params.get("provider") or "")[:64],
        error=error,
    )
