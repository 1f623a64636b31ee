"""Reading and validating a catalog source before anything is written.

Two inputs: a models.dev `api.json` (providers -> models, prices in USD per 1M tokens) and the
bundled provider data-policy facts (providers/data/provider_data_policies.json). The whole
source is checked first; any problem raises CatalogSourceError naming where it is, so that a
malformed, truncated or empty source changes nothing.
"""

import json
import re
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"
BUNDLED_CATALOG = DATA_DIR / "modelsdev_api.json"
BUNDLED_POLICIES = DATA_DIR / "provider_data_policies.json"

PRICE_PLACES = Decimal("0.0000000001")  # the DecimalField's 10 places
MAX_ERRORS_SHOWN = 5
MODALITIES = ("text", "image", "pdf", "audio", "video")
DATE_RE = re.compile(r"^(\d{4})-(\d{2})(?:-(\d{2}))?$")


class CatalogSourceError(ValueError):
    """The source cannot be applied; the message says why, for an operator."""


@dataclass(frozen=True)
class PriceData:
    input: Decimal
    output: Decimal
    cache_read: Decimal
    cache_write: Decimal


@dataclass(frozen=True)
class ModelData:
    model_id: str
    name: str
    family: str
    context_length: int | None
    max_output: int | None
    input_modalities: tuple[str, ...]
    output_modalities: tuple[str, ...]
    release_date: date | None
    open_weights: bool
    reasoning: bool
    tool_call: bool
    price: PriceData | None


@dataclass(frozen=True)
class PolicyData:
    headquarters: str = ""
    datacenters: tuple[str, ...] = ()
    trains_on_prompts: str = "unknown"
    retains_prompts: str = "unknown"
    can_publish: str = "unknown"
    retention_days: int | None = None
    zero_retention: str = ""
    notes: dict = field(default_factory=dict)
    sources: tuple[str, ...] = ()


@dataclass(frozen=True)
class ProviderData:
    slug: str
    name: str
    doc_url: str
    api_url: str
    models: tuple[ModelData, ...]
    policy: PolicyData


class _Problems:
    def __init__(self) -> None:
        self.items: list[str] = []
        self.warnings: list[str] = []

    def warn(self, where: str, what: str) -> None:
        self.warnings.append(f"{where}: {what}")

    def add(self, where: str, what: str) -> None:
        self.items.append(f"{where}: {what}")

    def raise_if_any(self) -> None:
        if self.items:
            shown = "; ".join(self.items[:MAX_ERRORS_SHOWN])
            more = len(self.items) - MAX_ERRORS_SHOWN
            suffix = f" (and {more} more)" if more > 0 else ""
            raise CatalogSourceError(
                f"The catalog source has {len(self.items)} problem(s): {shown}{suffix}."
            )


def _fact(value: object) -> tuple[str, str]:
    """(yes/no/unknown, the source's wording when it is more than a boolean)."""
    if value is True:
        return "yes", ""
    if value is False:
        return "no", ""
    if isinstance(value, str):
        # "unclear - treat as yes" is the compiler's own verdict; any other wording (plan- or
        # model-dependent, conflicting docs) is not a plain answer: unknown, with the note.
        return ("yes" if value.lower().endswith("treat as yes") else "unknown"), value
    return "unknown", ""


def load_policies(text: str) -> dict[str, PolicyData]:
    """Policy facts by models.dev provider id."""
    try:
        raw = json.loads(text)
        providers = raw["providers"]
        locations = raw.get("headquarters_by_openrouter_slug", {}).get("data", {})
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise CatalogSourceError(f"The data-policy file is not readable: {error}") from None
    by_slug: dict[str, PolicyData] = {}
    for slug, entry in locations.items():
        if isinstance(entry, dict):
            by_slug[slug] = PolicyData(
                headquarters=entry.get("headquarters") or "",
                datacenters=tuple(entry.get("datacenters") or ()),
            )
    for entry in providers:
        ids = entry.get("ids", {})
        slug = ids.get("modelsdev")
        if not slug:
            continue
        location = by_slug.get(ids.get("openrouter") or slug, PolicyData())
        trains, trains_note = _fact(entry.get("trains_on_api_prompts_by_default"))
        retains, retains_note = _fact(entry.get("retains_prompts"))
        publish, publish_note = _fact(entry.get("may_publish_prompts"))
        notes = {
            key: note
            for key, note in (
                ("trains_on_prompts", trains_note),
                ("retains_prompts", retains_note),
                ("can_publish", publish_note),
                ("summary", entry.get("notes", "")),
            )
            if note
        }
        retention = entry.get("retention_days")
        by_slug[slug] = PolicyData(
            headquarters=entry.get("headquarters") or location.headquarters,
            datacenters=location.datacenters,
            trains_on_prompts=trains,
            retains_prompts=retains,
            can_publish=publish,
            retention_days=retention if isinstance(retention, int) else None,
            zero_retention=(entry.get("zdr") or "")[:300],
            notes=notes,
            sources=tuple(entry.get("sources") or ()),
        )
    return by_slug


def _price(cost: object, where: str, problems: _Problems) -> PriceData | None:
    if cost is None:
        return None
    if not isinstance(cost, dict):
        problems.add(where, "cost must be an object")
        return None
    values: dict[str, Decimal] = {}
    for name in ("input", "output", "cache_read", "cache_write"):
        value = cost.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | Decimal) or value < 0:
            problems.add(where, f"cost.{name} must be a non-negative number, got {value!r}")
            return None
        values[name] = Decimal(value).quantize(PRICE_PLACES, rounding=ROUND_HALF_UP)
    if "input" not in values or "output" not in values:
        problems.add(where, "cost needs both input and output prices")
        return None
    # Cache tokens without their own price are charged as input tokens.
    return PriceData(
        input=values["input"],
        output=values["output"],
        cache_read=values.get("cache_read", values["input"]),
        cache_write=values.get("cache_write", values["input"]),
    )


def _limit(limit: dict, name: str, where: str, problems: _Problems) -> int | None:
    value = limit.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        problems.add(where, f"limit.{name} must be a whole number, got {value!r}")
        return None
    return value


def _release(value: object, where: str, problems: _Problems) -> date | None:
    if value in (None, ""):
        return None
    match = DATE_RE.match(value) if isinstance(value, str) else None
    try:
        if match:
            year, month, day = match.groups()
            return date(int(year), int(month), int(day or 1))
    except ValueError:
        pass
    # Upstream data has the odd impossible date ("2025-25-11"): an optional fact, so the model
    # is kept with its release date unknown, and the sync reports it.
    problems.warn(where, f"release_date {value!r} is not a date; stored as unknown")
    return None


def _flag(entry: dict, name: str, where: str, problems: _Problems) -> bool:
    value = entry.get(name, False)
    if not isinstance(value, bool):
        problems.add(where, f"{name} must be true or false")
        return False
    return value


def _modalities(entry: dict, side: str, where: str, problems: _Problems) -> tuple[str, ...]:
    values = (entry.get("modalities") or {}).get(side, [])
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        problems.add(where, f"modalities.{side} must be a list of names")
        return ()
    return tuple(values)


def _model(model_id: str, entry: object, where: str, problems: _Problems) -> ModelData | None:
    if not isinstance(entry, dict):
        problems.add(where, "must be an object")
        return None
    if not model_id or len(model_id) > 128:
        problems.add(where, "the model id must have 1 to 128 characters")
        return None
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        problems.add(where, "name is required")
        return None
    limit = entry.get("limit") or {}
    if not isinstance(limit, dict):
        problems.add(where, "limit must be an object")
        return None
    return ModelData(
        model_id=model_id,
        name=name.strip()[:200],
        family=str(entry.get("family") or "")[:100],
        context_length=_limit(limit, "context", where, problems),
        max_output=_limit(limit, "output", where, problems),
        input_modalities=_modalities(entry, "input", where, problems),
        output_modalities=_modalities(entry, "output", where, problems),
        release_date=_release(entry.get("release_date"), where, problems),
        open_weights=_flag(entry, "open_weights", where, problems),
        reasoning=_flag(entry, "reasoning", where, problems),
        tool_call=_flag(entry, "tool_call", where, problems),
        price=_price(entry.get("cost"), where, problems),
    )


@dataclass(frozen=True)
class ParsedCatalog:
    providers: list[ProviderData]
    warnings: list[str]


def parse_catalog(text: str, policies: dict[str, PolicyData]) -> ParsedCatalog:
    """The whole source, validated. Raises CatalogSourceError listing the first problems."""
    if not text.strip():
        raise CatalogSourceError("The catalog source is empty.")
    try:
        raw = json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as error:
        raise CatalogSourceError(
            f"The catalog source is not valid JSON (truncated?): {error.msg} at line "
            f"{error.lineno}, column {error.colno}."
        ) from None
    if not isinstance(raw, dict):
        raise CatalogSourceError("The catalog source must be a JSON object of providers.")
    problems = _Problems()
    providers: list[ProviderData] = []
    for slug, entry in raw.items():
        where = f"provider {slug!r}"
        if not isinstance(entry, dict) or not isinstance(entry.get("models"), dict):
            problems.add(where, "must be an object with a models object")
            continue
        if not slug or len(slug) > 64 or "/" in slug:
            problems.add(where, "the provider id must have 1 to 64 characters and no '/'")
            continue
        name = entry.get("name")
        if not isinstance(name, str) or not name.strip():
            problems.add(where, "name is required")
            continue
        models = [
            _model(model_id, model, f"{where}, model {model_id!r}", problems)
            for model_id, model in entry["models"].items()
        ]
        providers.append(
            ProviderData(
                slug=slug,
                name=name.strip()[:200],
                doc_url=_url(entry.get("doc")),
                api_url=_url(entry.get("api")),
                models=tuple(m for m in models if m is not None),
                policy=policies.get(slug, PolicyData()),
            )
        )
    problems.raise_if_any()
    if not sum(len(p.models) for p in providers):
        raise CatalogSourceError("The catalog source lists no models.")
    return ParsedCatalog(providers, problems.warnings)


def _url(value: object) -> str:
    if isinstance(value, str) and value.startswith(("https://", "http://")) and len(value) <= 500:
        return value
    return ""
