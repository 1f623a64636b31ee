"""The active catalog as an in-memory index, for the Providers tab's filters and sorts.

The catalog changes about once a day (a sync), the tab is read all the time: filtering and
sorting ~5,000 models in SQL cost a 5,000-row query per request, more than everything else on
the page. The index is built with one query per catalog version and kept in each process
(keyed by the version token, so a sync that changes anything makes it unreachable). Every sort
order is computed once when the index is built; a request only filters an already sorted tuple,
which keeps the order, so no request sorts (except by this organization's usage).

The semantics are those of the SQL it replaces: text search is a case-insensitive substring of
the model's name or id or its provider's name or slug, every word must match; a null context or
price never passes a minimum or maximum; in a sort, nulls come last and ties follow the name
order (provider name, model name, id) as the database collates them.
"""

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import NamedTuple

from .filters import CatalogFilters
from .models import CatalogModel
from .selectors import cached_local

MAX_SEARCH_WORDS = 5


class Entry(NamedTuple):
    pk: int
    key: str  # "provider/model"
    provider_id: int
    rank: int  # position in name order
    text: str  # name, model id, provider name and slug, upper-cased, one per line
    tags: str  # " in:text in:image out:text "
    context: int | None
    input_price: Decimal | None
    output_price: Decimal | None
    open_weights: bool
    release: date | None


def _price_key(e: Entry) -> tuple:
    return (
        e.input_price is None,
        e.input_price or 0,
        e.output_price is None,
        e.output_price or 0,
        e.rank,
    )


SORT_KEYS: dict[str, Callable[[Entry], tuple]] = {
    "price": _price_key,
    "-price": lambda e: (e.input_price is None, -(e.input_price or 0), e.rank),
    "context": lambda e: (e.context is None, -(e.context or 0), e.rank),
    "release": lambda e: (e.release is None, -(e.release.toordinal() if e.release else 0), e.rank),
}


class CatalogIndex:
    def __init__(self, entries: tuple[Entry, ...]) -> None:
        self.by_name = entries
        self.orders = {name: tuple(sorted(entries, key=key)) for name, key in SORT_KEYS.items()}

    def __len__(self) -> int:
        return len(self.by_name)

    def sorted_by(self, sort: str) -> tuple[Entry, ...]:
        # "usage" and "spend" start from name order; the listing re-sorts them (stable).
        return self.orders.get(sort, self.by_name)


def _build() -> CatalogIndex:
    rows = (
        CatalogModel.objects.filter(removed_at__isnull=True)
        .order_by("provider__name", "name", "pk")
        .values_list(
            "pk",
            "provider_id",
            "provider__slug",
            "provider__name",
            "model_id",
            "name",
            "modality_tags",
            "context_length",
            "input_price",
            "output_price",
            "open_weights",
            "release_date",
        )
    )
    entries = tuple(
        Entry(
            pk=pk,
            key=f"{slug}/{model_id}",
            provider_id=provider_id,
            rank=rank,
            text="\n".join((name, model_id, provider_name, slug)).upper(),
            tags=tags,
            context=context,
            input_price=input_price,
            output_price=output_price,
            open_weights=open_weights,
            release=release,
        )
        for rank, (
            pk,
            provider_id,
            slug,
            provider_name,
            model_id,
            name,
            tags,
            context,
            input_price,
            output_price,
            open_weights,
            release,
        ) in enumerate(rows)
    )
    return CatalogIndex(entries)


def catalog_index(catalog_version: str) -> CatalogIndex:
    return cached_local(f"providers-index:{catalog_version}", _build)


def matching(
    index: CatalogIndex, filters: CatalogFilters, provider_ids: set[int] | None
) -> list[Entry]:
    """The entries passing every catalog filter, in the filters' sort order."""
    entries: tuple[Entry, ...] | list[Entry] = index.sorted_by(filters.sort)
    if provider_ids is not None:
        entries = [e for e in entries if e.provider_id in provider_ids]
    # Words never contain the "\n" that separates the searched fields, so a word cannot match
    # across two of them.
    for word in filters.q.upper().split()[:MAX_SEARCH_WORDS]:
        entries = [e for e in entries if word in e.text]
    for tag in [f" in:{m} " for m in filters.inputs] + [f" out:{m} " for m in filters.outputs]:
        entries = [e for e in entries if tag in e.tags]
    if filters.min_context is not None:
        low = filters.min_context
        entries = [e for e in entries if e.context is not None and e.context >= low]
    if filters.max_input_price is not None:
        high = filters.max_input_price
        entries = [e for e in entries if e.input_price is not None and e.input_price <= high]
    if filters.max_output_price is not None:
        high = filters.max_output_price
        entries = [e for e in entries if e.output_price is not None and e.output_price <= high]
    if filters.open_weights:
        wanted = filters.open_weights == "yes"
        entries = [e for e in entries if e.open_weights == wanted]
    return list(entries)
