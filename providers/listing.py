"""The Providers tab's listing: filter and sort the catalog, one page of rows with each model's
facts, this organization's decision and its usage.

Filtering and sorting run over the in-memory catalog index (providers.catalog_index: built once
per catalog version, no query per request); the organization's decisions come from the cached
gate snapshot (the same one /api/v1/authorize answers from), so the tab and the API cannot
disagree. Provider-level facts (data policy, location) are matched over the ~150 providers.
"""

from collections.abc import Callable
from dataclasses import dataclass

from .catalog_index import catalog_index, matching
from .catalog_sync import catalog_version
from .filters import CatalogFilters
from .models import Provider
from .policy import OPT_OUT_REASONS, REASON_TEXT, Reason
from .selectors import cached

UsageByModel = dict[str, tuple[int, int]]  # "provider/model" -> (requests, microdollars)


@dataclass
class Row:
    pk: int
    key: str
    reason: Reason
    requests: int
    spend: int

    @property
    def allowed(self) -> bool:
        return self.reason == Reason.ALLOWED

    @property
    def reason_text(self) -> str:
        return REASON_TEXT[self.reason]

    @property
    def opt_out(self) -> bool:
        return self.reason in OPT_OUT_REASONS


@dataclass
class Listing:
    rows: list[Row]
    keys: list[str]  # every matching model, in order (the bulk actions' target)
    total: int
    allowed: int
    page: int
    pages: int
    catalog_size: int
    countries: list[str]
    datacenter_countries: list[str]


@dataclass(frozen=True)
class ProviderFacts:
    pk: int
    trains_on_prompts: str
    retains_prompts: str
    can_publish: str
    headquarters: str
    datacenters: tuple[str, ...]


def _load_providers() -> tuple[ProviderFacts, ...]:
    rows = Provider.objects.filter(removed_at__isnull=True).values_list(
        "pk", "trains_on_prompts", "retains_prompts", "can_publish", "headquarters", "datacenters"
    )
    return tuple(ProviderFacts(*row[:5], tuple(row[5] or ())) for row in rows)


def provider_facts(catalog: str | None = None) -> tuple[ProviderFacts, ...]:
    """The ~150 providers' filterable facts, cached until the catalog changes."""
    return cached(f"providers-provider-facts:{catalog or catalog_version()}", _load_providers)


def _provider_ids(filters: CatalogFilters, catalog: str) -> set[int] | None:
    checks: list[Callable[[ProviderFacts], bool]] = []
    for name, fact in (
        ("trains", "trains_on_prompts"),
        ("retains", "retains_prompts"),
        ("publishes", "can_publish"),
    ):
        wanted = getattr(filters, name)
        if wanted:
            checks.append(lambda p, fact=fact, wanted=wanted: getattr(p, fact) == wanted)
    if filters.hq:
        checks.append(lambda p: p.headquarters == filters.hq)
    if filters.dc:
        checks.append(lambda p: filters.dc in p.datacenters)
    if not checks:
        return None
    return {p.pk for p in provider_facts(catalog) if all(check(p) for check in checks)}


def _countries(catalog: str) -> tuple[list[str], list[str]]:
    hq, dc = set(), set()
    for provider in provider_facts(catalog):
        if provider.headquarters:
            hq.add(provider.headquarters)
        dc.update(provider.datacenters)
    return sorted(hq), sorted(dc)


def catalog_listing(
    filters: CatalogFilters,
    reasons: dict[str, str],
    usage: UsageByModel,
    page_size: int,
    catalog: str | None = None,
    allowed: frozenset[str] | None = None,
) -> Listing:
    """`catalog` is the catalog version the reasons were computed from (a gate snapshot's) and
    `allowed` the allowed keys among `reasons` (the snapshot's, computed once per snapshot)."""
    catalog = catalog or catalog_version()
    if allowed is None:
        allowed = frozenset(k for k, r in reasons.items() if r == Reason.ALLOWED)
    entries = matching(catalog_index(catalog), filters, _provider_ids(filters, catalog))
    if filters.status:
        want = filters.status == "allowed"
        entries = [e for e in entries if (e.key in allowed) == want]
    if filters.sort in ("usage", "spend") and usage:
        index = 0 if filters.sort == "usage" else 1
        entries.sort(key=lambda e: -usage.get(e.key, (0, 0))[index])  # stable: ties keep order
    total = len(entries)
    pages = max(1, -(-total // page_size))
    page = min(filters.page, pages)
    rows = []
    for entry in entries[(page - 1) * page_size : page * page_size]:
        requests, spend = usage.get(entry.key, (0, 0))
        reason = reasons.get(entry.key, Reason.NOT_IN_ALLOW_LIST)
        rows.append(Row(entry.pk, entry.key, Reason(reason), requests, spend))
    countries, datacenters = _countries(catalog)
    return Listing(
        rows=rows,
        keys=[e.key for e in entries],
        total=total,
        allowed=sum(1 for e in entries if e.key in allowed),
        page=page,
        pages=pages,
        catalog_size=len(reasons),
        countries=countries,
        datacenter_countries=datacenters,
    )
