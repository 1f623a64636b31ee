"""The Providers tab's listing: filter and sort the catalog, one page of rows with each model's
facts, this organization's decision and its usage.

Filtering and sorting run in SQL over the catalog (5k rows); the organization's decisions come
from the cached gate snapshot (the same one /api/v1/authorize answers from), so the tab and the
API cannot disagree. Provider-level facts (data policy, location) are matched in Python over the
~150 providers, which works the same on PostgreSQL and SQLite.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.db.models import F, Q, QuerySet

from .catalog_sync import catalog_version
from .filters import CatalogFilters
from .models import CatalogModel, Provider
from .policy import OPT_OUT_REASONS, REASON_TEXT, Reason
from .selectors import cached

UsageByModel = dict[str, tuple[int, int]]  # "provider/model" -> (requests, microdollars)


@dataclass
class Row:
    model: CatalogModel
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


def provider_facts() -> tuple[ProviderFacts, ...]:
    """The ~150 providers' filterable facts, cached until the catalog changes."""
    return cached(f"providers-provider-facts:{catalog_version()}", _load_providers)


def _provider_ids(filters: CatalogFilters) -> set[int] | None:
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
    return {p.pk for p in provider_facts() if all(check(p) for check in checks)}


def _queryset(filters: CatalogFilters) -> QuerySet:
    qs = CatalogModel.objects.filter(removed_at__isnull=True)
    provider_ids = _provider_ids(filters)
    if provider_ids is not None:
        qs = qs.filter(provider_id__in=provider_ids)
    if filters.q:
        for word in filters.q.split()[:5]:
            qs = qs.filter(
                Q(name__icontains=word)
                | Q(model_id__icontains=word)
                | Q(provider__name__icontains=word)
                | Q(provider__slug__icontains=word)
            )
    for modality in filters.inputs:
        qs = qs.filter(modality_tags__contains=f" in:{modality} ")
    for modality in filters.outputs:
        qs = qs.filter(modality_tags__contains=f" out:{modality} ")
    if filters.min_context is not None:
        qs = qs.filter(context_length__gte=filters.min_context)
    if filters.max_input_price is not None:
        qs = qs.filter(input_price__lte=filters.max_input_price)
    if filters.max_output_price is not None:
        qs = qs.filter(output_price__lte=filters.max_output_price)
    if filters.open_weights:
        qs = qs.filter(open_weights=filters.open_weights == "yes")
    order = {
        "price": [F("input_price").asc(nulls_last=True), F("output_price").asc(nulls_last=True)],
        "-price": [F("input_price").desc(nulls_last=True)],
        "context": [F("context_length").desc(nulls_last=True)],
        "release": [F("release_date").desc(nulls_last=True)],
    }.get(filters.sort, [])
    return qs.order_by(*order, "provider__name", "name", "pk")


def _countries() -> tuple[list[str], list[str]]:
    hq, dc = set(), set()
    for provider in provider_facts():
        if provider.headquarters:
            hq.add(provider.headquarters)
        dc.update(provider.datacenters)
    return sorted(hq), sorted(dc)


def catalog_listing(
    filters: CatalogFilters,
    reasons: dict[str, str],
    usage: UsageByModel,
    page_size: int,
) -> Listing:
    matching = list(_queryset(filters).values_list("pk", "provider__slug", "model_id"))
    entries = [(pk, f"{slug}/{model_id}") for pk, slug, model_id in matching]
    if filters.status:
        want = filters.status == "allowed"
        entries = [e for e in entries if (reasons.get(e[1]) == Reason.ALLOWED) == want]
    if filters.sort in ("usage", "spend"):
        index = 0 if filters.sort == "usage" else 1
        entries.sort(key=lambda e: -usage.get(e[1], (0, 0))[index])  # stable: ties keep order
    total = len(entries)
    pages = max(1, -(-total // page_size))
    page = min(filters.page, pages)
    chosen = entries[(page - 1) * page_size : page * page_size]
    models = (
        CatalogModel.objects.select_related("provider")
        .defer("modality_tags", "provider__policy_sources", "provider__datacenters")
        .in_bulk([pk for pk, _ in chosen])
    )
    rows = [
        Row(
            model=models[pk],
            key=key,
            reason=Reason(reasons.get(key, Reason.NOT_IN_ALLOW_LIST)),
            requests=usage.get(key, (0, 0))[0],
            spend=usage.get(key, (0, 0))[1],
        )
        for pk, key in chosen
    ]
    countries, datacenters = _countries()
    return Listing(
        rows=rows,
        keys=[key for _, key in entries],
        total=total,
        allowed=sum(1 for _, key in entries if reasons.get(key) == Reason.ALLOWED),
        page=page,
        pages=pages,
        catalog_size=len(reasons),
        countries=countries,
        datacenter_countries=datacenters,
    )
