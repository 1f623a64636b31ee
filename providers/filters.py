"""The Providers tab's filters: parsed from the query string, kept in it (links, htmx, bulk).

A value that does not parse is dropped with a message saying why; the other filters still apply.
"""

from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from urllib.parse import urlencode

from django.http import QueryDict

from .catalog_source import MODALITIES

FACTS = ("yes", "no", "unknown")
STATUSES = {"allowed": "Allowed", "blocked": "Not allowed"}
SORTS = {
    "name": "Name",
    "price": "Price (lowest first)",
    "-price": "Price (highest first)",
    "context": "Context length",
    "release": "Release date (newest first)",
    "usage": "Our requests, last 30 days",
    "spend": "Our spend, last 30 days",
}
MAX_PRICE = Decimal(1_000_000)


@dataclass(frozen=True)
class CatalogFilters:
    q: str = ""
    trains: str = ""
    retains: str = ""
    publishes: str = ""
    hq: str = ""
    dc: str = ""
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    min_context: int | None = None
    max_input_price: Decimal | None = None
    max_output_price: Decimal | None = None
    open_weights: str = ""
    status: str = ""
    sort: str = "name"
    page: int = 1
    errors: tuple[str, ...] = field(default=(), compare=False)

    def params(self, **overrides: object) -> list[tuple[str, str]]:
        """The filters as query parameters (empty ones left out)."""
        values = replace(self, **overrides) if overrides else self
        pairs: list[tuple[str, str]] = []
        for name in ("q", "trains", "retains", "publishes", "hq", "dc", "open_weights", "status"):
            if getattr(values, name):
                pairs.append((name, getattr(values, name)))
        pairs += [("in", m) for m in values.inputs] + [("out", m) for m in values.outputs]
        for name in ("min_context", "max_input_price", "max_output_price"):
            if getattr(values, name) is not None:
                pairs.append((name, str(getattr(values, name))))
        if values.sort != "name":
            pairs.append(("sort", values.sort))
        if values.page != 1:
            pairs.append(("page", str(values.page)))
        return pairs

    def querystring(self, **overrides: object) -> str:
        return urlencode(self.params(**overrides))

    @property
    def active(self) -> bool:
        return bool(self.params(sort="name", page=1))

    @property
    def catalog_query(self) -> str:
        """The filters without sort and page: what a bulk action applies to."""
        return self.querystring(sort="name", page=1)


def _choice(data: QueryDict, name: str, allowed: tuple | dict, errors: list, label: str) -> str:
    value = data.get(name, "").strip()
    if value and value not in allowed:
        errors.append(f"{label}: “{value[:40]}” is not one of {', '.join(allowed)}.")
        return ""
    return value


def _whole(data: QueryDict, name: str, errors: list, label: str) -> int | None:
    value = data.get(name, "").strip().replace(",", "").replace("_", "")
    if not value:
        return None
    if not value.isdigit() or len(value) > 10:
        errors.append(f"{label} must be a whole number of tokens, e.g. 128000.")
        return None
    return int(value)


def _price(data: QueryDict, name: str, errors: list, label: str) -> Decimal | None:
    value = data.get(name, "").strip().lstrip("$")
    if not value:
        return None
    try:
        price = Decimal(value)
    except InvalidOperation:
        price = None
    if price is None or not price.is_finite() or price < 0 or price > MAX_PRICE:
        errors.append(f"{label} must be an amount in dollars per million tokens, e.g. 3 or 0.5.")
        return None
    return price


def _country(data: QueryDict, name: str, errors: list, label: str) -> str:
    value = data.get(name, "").strip().upper()
    if value and (len(value) != 2 or not value.isalpha()):
        errors.append(f"{label} must be a two-letter country code, e.g. US or FR.")
        return ""
    return value


def parse_filters(data: QueryDict, *, default_status: str = "") -> CatalogFilters:
    errors: list[str] = []
    inputs = tuple(m for m in MODALITIES if m in data.getlist("in"))
    outputs = tuple(m for m in MODALITIES if m in data.getlist("out"))
    page = data.get("page", "1")
    status = data.get("status", default_status)
    return CatalogFilters(
        q=data.get("q", "").strip()[:100],
        trains=_choice(data, "trains", FACTS, errors, "Allows training"),
        retains=_choice(data, "retains", FACTS, errors, "Retains prompts"),
        publishes=_choice(data, "publishes", FACTS, errors, "Can publish"),
        hq=_country(data, "hq", errors, "Headquarters"),
        dc=_country(data, "dc", errors, "Data centre"),
        inputs=inputs,
        outputs=outputs,
        min_context=_whole(data, "min_context", errors, "Minimum context"),
        max_input_price=_price(data, "max_input_price", errors, "Maximum input price"),
        max_output_price=_price(data, "max_output_price", errors, "Maximum output price"),
        open_weights=_choice(data, "open_weights", ("yes", "no"), errors, "Open weights"),
        status=status if status in STATUSES else "",
        sort=data.get("sort") if data.get("sort") in SORTS else "name",
        page=int(page) if page.isdigit() and 0 < int(page) < 100_000 else 1,
        errors=tuple(errors),
    )
