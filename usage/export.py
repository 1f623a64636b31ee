"""Streamed CSV export of the filtered Usage view, from the daily rollup (never raw events)."""

from collections.abc import Iterator

from kilo_dashboard.csv_export import csv_lines
from kilo_dashboard.money import microdollars_exact_text
from organizations.models import Organization
from organizations.selectors import member_names

from .filters import UsageFilters
from .models import DailyRollup, ModelDailyRollup

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


def csv_rows(organization: Organization, filters: UsageFilters) -> Iterator[str]:
    """CSV lines; model and provider names come from API senders, so cells are defused."""
    return csv_lines(_rows(organization, filters))


# The figures after (day, member, model, provider) or (day, model, provider); cost is the 7th.
FIGURES = (
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


def _in_range(model, organization: Organization, filters: UsageFilters):  # noqa: ANN001, ANN202
    """The rollup rows of the filtered view (a member filter only where the rollup has members)."""
    queryset = model.objects.filter(
        organization_id=organization.pk, day__gte=filters.start, day__lte=filters.end
    )
    if filters.user_id is not None and model is DailyRollup:
        queryset = queryset.filter(user_id=filters.user_id)
    if filters.model:
        queryset = queryset.filter(model=filters.model)
    if filters.provider:
        queryset = queryset.filter(provider=filters.provider)
    return queryset


def _money_text(figures: list) -> list:
    return [*figures[:6], microdollars_exact_text(figures[6]), *figures[7:]]


def _rows(organization: Organization, filters: UsageFilters) -> Iterator[list]:
    yield HEADER
    emails = {user_id: email for user_id, (_, _, email) in member_names(organization.pk).items()}
    rows = (
        _in_range(DailyRollup, organization, filters)
        .order_by("day", "user_id", "model", "provider")
        .values_list("day", "user_id", "model", "provider", *FIGURES)
    )
    for day, user_id, model, provider, *figures in rows.iterator(chunk_size=2000):
        member = emails.get(user_id, f"former member #{user_id}")
        yield [day.isoformat(), member, model, provider, *_money_text(figures)]


ORGANIZATION_HEADER = [name for name in HEADER if name != "member_email"]


def organization_csv_rows(organization: Organization, filters: UsageFilters) -> Iterator[str]:
    """The export when usage analytics is off: organization totals per day and model, with no
    member column (from the per-model daily rollup, which holds no user)."""
    return csv_lines(_organization_rows(organization, filters))


def _organization_rows(organization: Organization, filters: UsageFilters) -> Iterator[list]:
    yield ORGANIZATION_HEADER
    rows = (
        _in_range(ModelDailyRollup, organization, filters)
        .order_by("day", "model", "provider")
        .values_list("day", "model", "provider", *FIGURES)
    )
    for day, model, provider, *figures in rows.iterator(chunk_size=2000):
        yield [day.isoformat(), model, provider, *_money_text(figures)]
