"""Reads for the Usage tab. Rollups only (never raw events); plain data out.

The source table is chosen from the filters so that the default view reads the compact rollups
(their size depends on days, models and members, not on the number of events). Every view runs
the same handful of queries whatever the organization's size.
"""

import hashlib
import json
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

from django.core.cache import cache
from django.db import connection
from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from kilo_dashboard.money import divide_half_up
from organizations.models import Organization
from organizations.selectors import member_names
from providers.selectors import allowed_model_keys

from . import sketch
from .filters import UsageFilters
from .models import (
    HOURS,
    DailyRollup,
    IngestKey,
    MemberDailyRollup,
    ModelDailyRollup,
    OrgDailyRollup,
    hour_column,
)
from .rollup import SETTLED_AFTER_DAYS, rollup_version, settled_version
from .services import hash_key

SUMS = {
    "requests": Sum("requests"),
    "errors": Sum("errors"),
    "input_tokens": Sum("input_tokens"),
    "output_tokens": Sum("output_tokens"),
    "cache_read_tokens": Sum("cache_read_tokens"),
    "cache_write_tokens": Sum("cache_write_tokens"),
    "cost": Sum("cost_microdollars"),
}
MONTHS_COMPARED = 6
PAGE_CACHE_SECONDS = 600
SETTLED_CACHE_SECONDS = 24 * 3600  # its key changes daily with the window anyway
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


# --- ingest keys --------------------------------------------------------------------------------


def ingest_key_for_secret(secret: str) -> IngestKey | None:
    if not secret:
        return None
    return IngestKey.objects.filter(key_hash=hash_key(secret), revoked_at__isnull=True).first()


def ingest_keys(organization: Organization) -> list[IngestKey]:
    return list(IngestKey.objects.filter(organization=organization).select_related("created_by"))


# --- figures ------------------------------------------------------------------------------------


@dataclass
class Totals:
    requests: int = 0
    errors: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cost: int = 0

    @classmethod
    def of(cls, row: dict) -> "Totals":
        return cls(**{name: int(row.get(name) or 0) for name in SUMS})

    def add(self, other: "Totals") -> None:
        for name in SUMS:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @property
    def successes(self) -> int:
        return self.requests - self.errors

    @property
    def tokens(self) -> int:
        return (
            self.input_tokens
            + self.output_tokens
            + self.cache_read_tokens
            + self.cache_write_tokens
        )

    @property
    def avg_cost(self) -> int:
        """Microdollars per request (all requests: failed ones can cost too)."""
        return divide_half_up(self.cost, self.requests) if self.requests else 0

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    value: int
    previous: int
    kind: str  # "money", "money4" or "count"

    @property
    def change(self) -> float | None:
        """Relative change against the previous period, or None when there is nothing to compare."""
        if not self.previous:
            return None
        return (self.value - self.previous) / self.previous


@dataclass(frozen=True)
class DayRow:
    day: date
    totals: Totals


@dataclass(frozen=True)
class MonthRow:
    month: date
    totals: Totals
    partial: bool
    change: float | None  # spend, month over month


@dataclass(frozen=True)
class ModelRow:
    model: str
    provider: str
    totals: Totals
    p50_ms: int
    p95_ms: int
    request_share: float
    cost_share: float
    # False: the organization's current model policy does not allow it (the event was stored
    # anyway: what happened, happened), flagged in the model table.
    allowed: bool = True

    @property
    def cost_per_1k_tokens(self) -> int:
        if not self.totals.tokens:
            return 0
        return divide_half_up(self.totals.cost * 1000, self.totals.tokens)


@dataclass(frozen=True)
class MemberRow:
    user_id: int
    public_id: str
    name: str
    email: str
    totals: Totals
    cost_share: float


@dataclass
class UsagePage:
    has_data: bool
    filters: UsageFilters
    metrics: list[Metric] = field(default_factory=list)
    days: list[DayRow] = field(default_factory=list)
    months: list[MonthRow] = field(default_factory=list)
    weekly: list[list[int]] = field(default_factory=list)  # [weekday][hour] -> requests
    models: list[ModelRow] = field(default_factory=list)
    providers: list[tuple[str, Totals, float]] = field(default_factory=list)
    members: list[MemberRow] | None = None
    member_choices: list[tuple[str, str]] = field(default_factory=list)
    model_choices: list[str] = field(default_factory=list)
    provider_choices: list[str] = field(default_factory=list)
    cache_key: str = ""  # where this page (and the figures built from it) is cached


def _scoped(queryset: QuerySet, filters: UsageFilters, *, user: bool, model: bool) -> QuerySet:
    if user and filters.user_id is not None:
        queryset = queryset.filter(user_id=filters.user_id)
    if model and filters.model:
        queryset = queryset.filter(model=filters.model)
    if model and filters.provider:
        queryset = queryset.filter(provider=filters.provider)
    return queryset


def _daily_table(filters: UsageFilters) -> type:
    """The narrowest daily rollup that holds the filters' breakdown."""
    by_user = filters.user_id is not None
    if by_user and filters.by_model:
        return DailyRollup
    if by_user:
        return MemberDailyRollup
    if filters.by_model:
        return ModelDailyRollup
    return OrgDailyRollup


def _month_start(day: date, back: int = 0) -> date:
    index = day.year * 12 + day.month - 1 - back
    return date(index // 12, index % 12 + 1, 1)


# Column of each Totals field in the rollups (a raw query: with 31 sums, compiling them through
# the ORM cost more than the query itself).
SUM_COLUMNS = {"cost": "cost_microdollars"}
SERIES_SUMS = ", ".join(
    [f"SUM({SUM_COLUMNS.get(name, name)})" for name in SUMS]
    + [f"SUM({hour_column(hour)})" for hour in HOURS]
)


def _scope_sql(organization: Organization, scope: tuple) -> tuple[str, list]:
    """WHERE conditions on a rollup aliased `r` for the organization and the filters set in
    scope = (user_id, model, provider), and their parameters."""
    where, params = ["r.organization_id = %s"], [organization.pk]
    for column, value in zip(("user_id", "model", "provider"), scope, strict=True):
        if value not in (None, ""):
            where.append(f"r.{column} = %s")
            params.append(value)
    return " AND ".join(where), params


def _series(
    organization: Organization, filters: UsageFilters
) -> tuple[dict[date, Totals], dict[date, list[int]]]:
    """Per local day, from the months compared to the window's end: the figures, and the
    requests per local hour (the weekly pattern), in one read of the narrowest daily rollup."""
    first = min(filters.previous_start, _month_start(filters.end, MONTHS_COMPARED - 1))
    table = _daily_table(filters)  # it has a column for every filter set
    where, params = _scope_sql(organization, (filters.user_id, filters.model, filters.provider))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT day, {SERIES_SUMS} FROM {table._meta.db_table} r "  # noqa: S608 - constants
            f"WHERE {where} AND r.day >= %s AND r.day <= %s GROUP BY day",
            [*params, first, filters.end],
        )
        rows = cursor.fetchall()
    series, hours = {}, {}
    width = len(SUMS)
    for stored_day, *sums in rows:
        day = date.fromisoformat(stored_day) if isinstance(stored_day, str) else stored_day
        series[day] = Totals(
            **{name: int(value or 0) for name, value in zip(SUMS, sums[:width], strict=True)}
        )
        hours[day] = [int(value or 0) for value in sums[width:]]
    return series, hours


def _sum_days(series: dict[date, Totals], start: date, end: date) -> Totals:
    total = Totals()
    for day, totals in series.items():
        if start <= day <= end:
            total.add(totals)
    return total


def _active_users(organization: Organization, filters: UsageFilters) -> tuple[int, int]:
    source = DailyRollup if filters.by_model else MemberDailyRollup
    queryset = _scoped(
        source.objects.filter(organization_id=organization.pk), filters, user=True, model=True
    )
    week_start = filters.end - timedelta(days=6)
    counts = queryset.filter(
        day__gte=week_start - timedelta(days=7), day__lte=filters.end
    ).aggregate(
        current=Count("user_id", distinct=True, filter=Q(day__gte=week_start)),
        previous=Count("user_id", distinct=True, filter=Q(day__lt=week_start)),
    )
    return counts["current"] or 0, counts["previous"] or 0


def _metrics(current: Totals, previous: Totals, active: tuple[int, int]) -> list[Metric]:
    return [
        Metric("spend", "Total spend", current.cost, previous.cost, "money"),
        Metric("requests", "Successful requests", current.successes, previous.successes, "count"),
        Metric(
            "avg_cost", "Average cost per request", current.avg_cost, previous.avg_cost, "money4"
        ),
        Metric(
            "input_tokens", "Input tokens", current.input_tokens, previous.input_tokens, "count"
        ),
        Metric(
            "output_tokens", "Output tokens", current.output_tokens, previous.output_tokens, "count"
        ),
        Metric("active_users", "Active users (7 days)", active[0], active[1], "count"),
    ]


def _months(series: dict[date, Totals], filters: UsageFilters) -> list[MonthRow]:
    rows: list[MonthRow] = []
    previous_cost = None
    for back in range(MONTHS_COMPARED - 1, -1, -1):
        start = _month_start(filters.end, back)
        end = _month_start(filters.end, back - 1) - timedelta(days=1)
        totals = _sum_days(series, start, end)
        change = (totals.cost - previous_cost) / previous_cost if previous_cost else None
        rows.append(MonthRow(start, totals, partial=back == 0 and end > filters.end, change=change))
        previous_cost = totals.cost
    return rows


def whole_weeks(start: date, end: date) -> tuple[date, date] | None:
    """The first and last Monday of the weeks lying wholly inside [start, end], or None."""
    first = start + timedelta(days=-start.weekday() % 7)
    last = end - timedelta(days=(end.weekday() + 1) % 7) - timedelta(days=6)
    return (first, last) if first <= last else None


Histograms = dict[tuple[str, str], dict[int, int]]


def _over_window(
    organization: Organization,
    filters: UsageFilters,
    what: str,
    read: Callable[[date, date], dict],
    add: Callable[[dict, dict], None],
) -> dict:
    """`read(start, end)` over the window, its settled days (rollup.SETTLED_AFTER_DAYS: only late
    events change them) read once per organization settled version and cached, its recent days
    read each time; `add(into, part)` sums the two without changing `part`."""
    local_today = timezone.now().astimezone(zoneinfo.ZoneInfo(organization.time_zone)).date()
    settled_end = min(filters.end, local_today - timedelta(days=SETTLED_AFTER_DAYS))
    result: dict = {}
    if filters.start <= settled_end:
        identity = (
            organization.pk,
            organization.time_zone,
            settled_version(organization.pk),
            what,
            (filters.user_id, filters.model, filters.provider),
            filters.start,
            settled_end,
        )
        key = "usage:settled:" + hashlib.sha256(repr(identity).encode()).hexdigest()[:32]
        settled = cache.get(key)
        if settled is None:
            settled = read(filters.start, settled_end)
            cache.set(key, settled, timeout=SETTLED_CACHE_SECONDS)
        add(result, settled)
    if settled_end < filters.end:
        add(result, read(max(filters.start, settled_end + timedelta(days=1)), filters.end))
    return result


def _add_histograms(into: Histograms, more: Histograms) -> None:
    for pair, histogram in more.items():
        merged = into.setdefault(pair, {})
        for bucket, count in histogram.items():
            merged[bucket] = merged.get(bucket, 0) + count


def _add_totals(into: dict, more: dict) -> None:
    for key, totals in more.items():
        into.setdefault(key, Totals()).add(totals)


def _latency_histograms(
    organization: Organization, filters: UsageFilters, table: str
) -> Histograms:
    """Each model's latency histogram over the window: the stored histograms summed."""
    scope = (filters.user_id, filters.model, filters.provider)
    return _over_window(
        organization,
        filters,
        f"latency:{table}",
        lambda start, end: _merged_histograms(organization, scope, table, start, end),
        _add_histograms,
    )


def _sums_by(
    organization: Organization, filters: UsageFilters, table: type, keys: tuple[str, ...]
) -> dict:
    """Totals over the window per `keys` (e.g. ("user_id",)) from the daily rollup `table`."""

    def read(start: date, end: date) -> dict:
        queryset = _scoped(
            table.objects.filter(organization_id=organization.pk), filters, user=True, model=True
        )
        rows = (
            queryset.filter(day__gte=start, day__lte=end).values(*keys).annotate(**SUMS).order_by()
        )
        return {tuple(row[k] for k in keys): Totals.of(row) for row in rows}

    return _over_window(
        organization, filters, f"sums:{table._meta.db_table}:{keys}", read, _add_totals
    )


def _merged_histograms(
    organization: Organization, scope: tuple, table: str, start: date, end: date
) -> Histograms:
    """The stored histograms of [start, end] summed per model.

    Across all members, whole weeks come from the weekly histograms and only the days at the
    edges from the daily ones; a member's histograms are daily only.
    """
    condition, params = _scope_sql(organization, scope)
    weeks = whole_weeks(start, end) if table == "usage_modeldailyrollup" else None
    if weeks is None:
        parts = [(table, f"{condition} AND r.day >= %s AND r.day <= %s", [*params, start, end])]
    else:
        first, last = weeks
        parts = [
            (table, f"{condition} AND r.day >= %s AND r.day < %s", [*params, start, first]),
            (
                "usage_modelweeklylatency",
                f"{condition} AND r.week >= %s AND r.week <= %s",
                [*params, first, last],
            ),
            (
                table,
                f"{condition} AND r.day > %s AND r.day <= %s",
                [*params, last + timedelta(days=6), end],
            ),
        ]
    union = " UNION ALL ".join(
        f"SELECT r.model, r.provider, r.latency_histogram FROM {source} r WHERE {where_sql}"  # noqa: S608
        for source, where_sql, _ in parts
    )
    histograms: Histograms = {}
    with connection.cursor() as cursor:
        # Summed here rather than in SQL: unpacking every bucket into a row to group them cost
        # more than adding the few thousand counts in Python.
        cursor.execute(union, [param for _, _, values in parts for param in values])
        for model, provider, stored in cursor.fetchall():
            merged = histograms.setdefault((model, provider), {})
            for bucket, count in (
                json.loads(stored) if isinstance(stored, str) else stored
            ).items():
                merged[bucket] = merged.get(bucket, 0) + count
    return {
        pair: {int(bucket): count for bucket, count in merged.items()}
        for pair, merged in histograms.items()
    }


def _models(organization: Organization, filters: UsageFilters) -> list[ModelRow]:
    source = DailyRollup if filters.user_id is not None else ModelDailyRollup
    sums = _sums_by(organization, filters, source, ("model", "provider"))
    histograms = _latency_histograms(organization, filters, source._meta.db_table)
    total_requests = sum(totals.requests for totals in sums.values()) or 1
    total_cost = sum(totals.cost for totals in sums.values()) or 1
    result = []
    for (model, provider), totals in sums.items():
        p50, p95 = sketch.quantiles(histograms.get((model, provider), {}), (50, 95))
        result.append(
            ModelRow(
                model=model,
                provider=provider,
                totals=totals,
                # Percentiles of the whole window, within sketch.ALPHA of the exact ones.
                p50_ms=p50,
                p95_ms=p95,
                request_share=totals.requests / total_requests,
                cost_share=totals.cost / total_cost,
            )
        )
    result.sort(key=lambda r: (-r.totals.requests, r.model))
    return result


def _providers(models: list[ModelRow]) -> list[tuple[str, Totals, float]]:
    by_provider: dict[str, Totals] = {}
    for row in models:
        by_provider.setdefault(row.provider, Totals()).add(row.totals)
    total = sum(t.requests for t in by_provider.values()) or 1
    ranked = sorted(by_provider.items(), key=lambda item: -item[1].requests)
    return [(name, totals, totals.requests / total) for name, totals in ranked]


def _members(
    organization: Organization, filters: UsageFilters, names: dict[int, tuple[str, str, str]]
) -> list[MemberRow]:
    source = DailyRollup if filters.by_model else MemberDailyRollup
    sums = _sums_by(organization, filters, source, ("user_id",))
    total_cost = sum(totals.cost for totals in sums.values()) or 1
    result = []
    for (user_id,), totals in sums.items():
        public_id, name, email = names.get(user_id, ("", "Former member", ""))
        result.append(
            MemberRow(user_id, public_id, name or email, email, totals, totals.cost / total_cost)
        )
    result.sort(key=lambda r: (-r.totals.cost, r.email))
    return result


def _weekly(hours: dict[date, list[int]], filters: UsageFilters) -> list[list[int]]:
    """Requests by local weekday x hour over the window: each day's hour counts added on its
    weekday (every daily rollup row counts its requests per local hour)."""
    grid = [[0] * 24 for _ in range(7)]
    for day, counts in hours.items():
        if filters.start <= day <= filters.end:
            weekday = grid[day.weekday()]
            for hour, count in enumerate(counts):
                weekday[hour] += count
    return grid


def _choices(organization: Organization) -> tuple[list[str], list[str]]:
    pairs = (
        ModelDailyRollup.objects.filter(organization_id=organization.pk)
        .values_list("model", "provider")
        .distinct()
        .order_by()
    )
    pairs = list(pairs)
    return sorted({m for m, _ in pairs}), sorted({p for _, p in pairs})


def usage_page(
    organization: Organization, filters: UsageFilters, *, all_members: bool
) -> UsagePage:
    """Everything the Usage tab shows. `filters.user_id` must already be forced to the viewer
    for a role that sees only its own usage (the view does that through `scope_filters`).

    Cached per organization, filters, member names and rollup version: every rollup run that
    touches the organization changes the version, so a cached page is never staler than the
    rollups themselves.
    """
    names = member_names(organization.pk) if all_members else None
    key = _page_cache_key(organization, filters, names)
    page = cache.get(key)
    if page is None:
        page = _build_page(organization, filters, names)
        page.cache_key = key
        cache.set(key, page, timeout=PAGE_CACHE_SECONDS)
    return page


def _page_cache_key(organization: Organization, filters: UsageFilters, names: dict | None) -> str:
    identity = repr(
        (
            organization.time_zone,
            sorted(filters.__dict__.items()),
            sorted(names.items()) if names is not None else None,
        )
    )
    digest = hashlib.sha256(identity.encode()).hexdigest()[:32]
    return f"usage:page:{organization.pk}:{rollup_version(organization.pk)}:{digest}"


def _build_page(
    organization: Organization, filters: UsageFilters, names: dict[int, tuple] | None
) -> UsagePage:
    model_choices, provider_choices = _choices(organization)
    page = UsagePage(has_data=bool(model_choices), filters=filters)
    if not page.has_data:
        return page
    page.model_choices, page.provider_choices = model_choices, provider_choices
    series, hours = _series(organization, filters)
    current = _sum_days(series, filters.start, filters.end)
    previous = _sum_days(series, filters.previous_start, filters.previous_end)
    page.metrics = _metrics(current, previous, _active_users(organization, filters))
    page.days = [
        DayRow(day, series.get(day, Totals()))
        for day in (filters.start + timedelta(days=n) for n in range(filters.days))
    ]
    page.months = _months(series, filters)
    allowed = allowed_model_keys(organization.pk)
    page.models = [
        replace(row, allowed=f"{row.provider}/{row.model}" in allowed)
        for row in _models(organization, filters)
    ]
    page.providers = _providers(page.models)
    page.weekly = _weekly(hours, filters)
    if names is not None:
        page.member_choices = sorted(
            ((public_id, name or email) for public_id, name, email in names.values()),
            key=lambda choice: choice[1].lower(),
        )
        page.members = _members(organization, filters, names)
    return page


def scope_filters(
    organization: Organization, filters: UsageFilters, *, viewer_id: int, all_members: bool
) -> UsageFilters:
    """Resolve the member filter; a viewer without VIEW_ALL_USAGE always sees only themselves."""
    if not all_members:
        return UsageFilters(
            **{**filters.__dict__, "member": "", "own_only": True, "user_id": viewer_id}
        )
    if not filters.member:
        return filters
    for user_id, (public_id, _, _) in member_names(organization.pk).items():
        if public_id == filters.member:
            return filters.with_user(user_id)
    return UsageFilters(**{**filters.__dict__, "member": ""})


# --- for billing --------------------------------------------------------------------------------


def daily_costs(
    *, since: date | None = None, organization_ids: list[int] | None = None
) -> dict[tuple[int, date], int]:
    """Rolled-up cost in microdollars per (organization id, local day), days >= `since`.

    Billing debits each organization's credits by these figures (usage never calls billing);
    days without usage have no entry.
    """
    rows = OrgDailyRollup.objects.all()
    if since is not None:
        rows = rows.filter(day__gte=since)
    if organization_ids is not None:
        rows = rows.filter(organization_id__in=organization_ids)
    return {
        (org_id, day): int(cost)
        for org_id, day, cost in rows.values_list("organization_id", "day", "cost_microdollars")
        if cost
    }


def model_usage_last_30_days(organization: Organization) -> dict[str, tuple[int, int]]:
    """Requests and spend (microdollars) per "provider/model" over the organization's last 30
    local days, from the model rollups: the Providers tab's "sort by our usage"."""
    today = datetime.now(zoneinfo.ZoneInfo(organization.time_zone)).date()
    rows = (
        ModelDailyRollup.objects.filter(
            organization_id=organization.pk, day__gt=today - timedelta(days=30)
        )
        .values("provider", "model")
        .annotate(requests=Sum("requests"), cost=Sum("cost_microdollars"))
        .order_by()
    )
    return {f"{r['provider']}/{r['model']}": (r["requests"], r["cost"]) for r in rows}
