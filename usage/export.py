"""Streamed CSV export of the filtered Usage view, from the daily rollup (never raw events)."""

from collections.abc import Iterator

from kilo_dashboard.csv_export import csv_lines
from organizations.models import Organization
from organizations.selectors import member_names

from .filters import UsageFilters
from .models import DailyRollup

HEADER = [
    "date",
    "member_email",
    "model",
    "provider",
    "requests",
    "errors",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cost_usd",
    "latency_p50_ms",
    "latency_p95_ms",
]


def usd_text(microdollars: int) -> str:
    """Exact decimal text of an integer microdollar amount: 1234567 -> "1.234567"."""
    sign = "-" if microdollars < 0 else ""
    whole, fraction = divmod(abs(microdollars), 1_000_000)
    return f"{sign}{whole}.{fraction:06d}"


def csv_rows(organization: Organization, filters: UsageFilters) -> Iterator[str]:
    """CSV lines; model and provider names come from API senders, so cells are defused."""
    return csv_lines(_rows(organization, filters))


def _rows(organization: Organization, filters: UsageFilters) -> Iterator[list]:
    yield HEADER
    emails = {user_id: email for user_id, (_, _, email) in member_names(organization.pk).items()}
    queryset = DailyRollup.objects.filter(
        organization_id=organization.pk, day__gte=filters.start, day__lte=filters.end
    )
    if filters.user_id is not None:
        queryset = queryset.filter(user_id=filters.user_id)
    if filters.model:
        queryset = queryset.filter(model=filters.model)
    if filters.provider:
        queryset = queryset.filter(provider=filters.provider)
    rows = queryset.order_by("day", "user_id", "model", "provider").values_list(
        "day",
        "user_id",
        "model",
        "provider",
        "requests",
        "errors",
        "input_tokens",
        "output_tokens",
        "cache_read_tokens",
        "cache_write_tokens",
        "cost_microdollars",
        "latency_p50_ms",
        "latency_p95_ms",
    )
    for day, user_id, *figures in rows.iterator(chunk_size=2000):
        cost = figures[8]
        yield [
            day.isoformat(),
            emails.get(user_id, f"former member #{user_id}"),
            *figures[:8],
            usd_text(cost),
            *figures[9:],
        ]
