"""`catalog_sync`: apply a models.dev source to the catalog, all or nothing.

The source is read and validated whole (catalog_source) before the transaction opens. Inside it:
providers and models are upserted, models missing from the source are marked removed, and a
changed price becomes a new ModelPrice row in force from now (a model's first price is in force
from the beginning of time: nothing better is known about its past). A source that would remove
a large part of the catalog at once is refused unless the operator says so: a half-published
upstream file must not wipe the catalog. Every attempt leaves a CatalogSync row.
"""

import logging
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone

from audit.services import Actor, audit_record

from .catalog_source import (
    BUNDLED_CATALOG,
    BUNDLED_POLICIES,
    CatalogSourceError,
    ModelData,
    ParsedCatalog,
    ProviderData,
    load_policies,
    parse_catalog,
)
from .models import CatalogModel, CatalogSync, ModelPrice, Provider, SyncStatus

logger = logging.getLogger(__name__)

BEGINNING = datetime(2000, 1, 1, tzinfo=UTC)
CATALOG_VERSION_KEY = "providers-catalog-version"
SYNC_LOCK_KEY = 0x4B4D4344  # "KMCD": one sync at a time
MAX_SOURCE_BYTES = 64 * 1024 * 1024
FETCH_TIMEOUT_SECONDS = 30

MODEL_FIELDS = (
    "name",
    "family",
    "context_length",
    "max_output",
    "input_modalities",
    "output_modalities",
    "modality_tags",
    "release_date",
    "open_weights",
    "reasoning",
    "tool_call",
)
PROVIDER_FIELDS = (
    "name",
    "doc_url",
    "api_url",
    "headquarters",
    "datacenters",
    "trains_on_prompts",
    "retains_prompts",
    "can_publish",
    "retention_days",
    "zero_retention",
    "policy_notes",
    "policy_sources",
)
PRICE_FIELDS = ("input_price", "output_price", "cache_read_price", "cache_write_price")


@dataclass(frozen=True)
class SyncResult:
    status: str
    message: str
    sync: CatalogSync


def catalog_version() -> str:
    version = cache.get(CATALOG_VERSION_KEY)
    if version is None:
        cache.add(CATALOG_VERSION_KEY, uuid.uuid4().hex, None)
        version = cache.get(CATALOG_VERSION_KEY)
    return version


def _replace_catalog_version() -> None:
    cache.set(CATALOG_VERSION_KEY, uuid.uuid4().hex, None)


def catalog_changed() -> None:
    """Now and after commit (see organizations.gate.gate_changed for why both)."""
    _replace_catalog_version()
    transaction.on_commit(_replace_catalog_version)


def read_source(source: str) -> str:
    """The text of a file path or an http(s) URL. Raises CatalogSourceError."""
    try:
        if source.startswith(("https://", "http://")):
            request = urllib.request.Request(source, headers={"User-Agent": "kilo-teams"})  # noqa: S310
            with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT_SECONDS) as response:  # noqa: S310
                body = response.read(MAX_SOURCE_BYTES + 1)
        else:
            body = Path(source).read_bytes()
    except (OSError, ValueError) as error:
        raise CatalogSourceError(f"Could not read {source}: {error}") from None
    if len(body) > MAX_SOURCE_BYTES:
        raise CatalogSourceError(f"{source} is larger than {MAX_SOURCE_BYTES:,} bytes.")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise CatalogSourceError(f"{source} is not UTF-8 text.") from None


def modality_tags(inputs: tuple[str, ...], outputs: tuple[str, ...]) -> str:
    tags = [f"in:{m}" for m in inputs] + [f"out:{m}" for m in outputs]
    return f" {' '.join(tags)} "[:200]


def _provider_values(data: ProviderData) -> dict:
    policy = data.policy
    return {
        "name": data.name,
        "doc_url": data.doc_url,
        "api_url": data.api_url,
        "headquarters": policy.headquarters[:2],
        "datacenters": list(policy.datacenters),
        "trains_on_prompts": policy.trains_on_prompts,
        "retains_prompts": policy.retains_prompts,
        "can_publish": policy.can_publish,
        "retention_days": policy.retention_days,
        "zero_retention": policy.zero_retention,
        "policy_notes": policy.notes,
        "policy_sources": list(policy.sources),
    }


def _model_values(data: ModelData) -> dict:
    price = data.price
    return {
        "name": data.name,
        "family": data.family,
        "context_length": data.context_length,
        "max_output": data.max_output,
        "input_modalities": list(data.input_modalities),
        "output_modalities": list(data.output_modalities),
        "modality_tags": modality_tags(data.input_modalities, data.output_modalities),
        "release_date": data.release_date,
        "open_weights": data.open_weights,
        "reasoning": data.reasoning,
        "tool_call": data.tool_call,
        "input_price": price.input if price else None,
        "output_price": price.output if price else None,
        "cache_read_price": price.cache_read if price else None,
        "cache_write_price": price.cache_write if price else None,
    }


def _record(
    source: str, started: datetime, status: str, message: str, **counts: int
) -> CatalogSync:
    return CatalogSync.objects.create(
        source=source[:500], started_at=started, status=status, message=message, **counts
    )


def catalog_sync(
    *,
    source: str | None = None,
    policies_source: str | None = None,
    allow_removals: bool = False,
    actor: Actor | None = None,
) -> SyncResult:
    """Validate `source` (default: the bundled snapshot) and apply it in one transaction."""
    source = source or str(BUNDLED_CATALOG)
    started = timezone.now()
    try:
        policies = load_policies(read_source(policies_source or str(BUNDLED_POLICIES)))
        parsed = parse_catalog(read_source(source), policies)
        with transaction.atomic():
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_xact_lock(%s)", [SYNC_LOCK_KEY])
            sync = _apply(parsed, source, started, allow_removals, actor or Actor.system())
    except CatalogSourceError as error:
        logger.error("Model catalog sync from %s refused: %s", source, error)  # noqa: TRY400
        sync = _record(source, started, SyncStatus.REFUSED, str(error))
        return SyncResult(SyncStatus.REFUSED, str(error), sync)
    return SyncResult(sync.status, sync.message, sync)


def _apply(
    parsed: ParsedCatalog,
    source: str,
    now: datetime,
    allow_removals: bool,
    actor: Actor,
) -> CatalogSync:
    providers = parsed.providers
    existing_providers = {p.slug: p for p in Provider.objects.all()}
    existing_models = {
        (m.provider.slug, m.model_id): m for m in CatalogModel.objects.select_related("provider")
    }
    incoming = {(p.slug, m.model_id): m for p in providers for m in p.models}
    active = {key for key, m in existing_models.items() if m.removed_at is None}
    removed = active - incoming.keys()
    limit = settings.PROVIDERS_CATALOG_MAX_REMOVALS
    if removed and not allow_removals and len(removed) > max(limit, len(active) // 10):
        raise CatalogSourceError(
            f"The source would remove {len(removed):,} of {len(active):,} models at once "
            f"(e.g. {', '.join('/'.join(k) for k in sorted(removed)[:3])}); it looks partial. "
            f"Nothing was changed. Re-run with --allow-removals if this is intended."
        )
    counts = {
        "providers_added": 0,
        "models_added": 0,
        "models_updated": 0,
        "models_removed": 0,
        "prices_changed": 0,
    }
    provider_rows, providers_updated = _upsert_providers(providers, existing_providers, now, counts)
    new_prices = _upsert_models(providers, provider_rows, existing_models, now, counts)
    gone = [existing_models[key].pk for key in removed]
    counts["models_removed"] = CatalogModel.objects.filter(pk__in=gone).update(removed_at=now)
    present = {p.slug for p in providers}
    Provider.objects.filter(removed_at__isnull=True).exclude(slug__in=present).update(
        removed_at=now
    )
    ModelPrice.objects.bulk_create(new_prices, batch_size=2000)
    # A provider's facts (name, data policy, location) count as a change: the tab and the
    # opt-out decisions show them, and they are cached per catalog version.
    changed = any(counts.values()) or providers_updated > 0
    status = SyncStatus.APPLIED if changed else SyncStatus.UNCHANGED
    message = (
        "{providers_added} providers and {models_added} models added, {models_updated} updated, "
        "{models_removed} removed, {prices_changed} price changes, "
        "{providers_updated} providers updated.".format(
            **counts, providers_updated=providers_updated
        )
        if changed
        else "The catalog already matches the source."
    )
    if parsed.warnings:
        message += f" {len(parsed.warnings)} warning(s): " + "; ".join(parsed.warnings[:5])
    sync = _record(source, now, status, message, **counts)
    if changed:
        audit_record(
            actor=actor,
            action="providers.catalog_synced",
            target=sync,
            target_label=f"Model catalog from {source}"[:255],
            after={**counts, "providers_updated": providers_updated},
        )
        catalog_changed()
    return sync


def _upsert_providers(
    providers: list[ProviderData], existing: dict[str, Provider], now: datetime, counts: dict
) -> tuple[dict[str, Provider], int]:
    """The providers by slug, and how many existing ones changed."""
    to_update = []
    for data in providers:
        values = _provider_values(data)
        row = existing.get(data.slug)
        if row is None:
            row = Provider.objects.create(slug=data.slug, first_seen_at=now, **values)
            existing[data.slug] = row
            counts["providers_added"] += 1
            continue
        if row.removed_at or any(getattr(row, f) != v for f, v in values.items()):
            for name, value in values.items():
                setattr(row, name, value)
            row.removed_at = None
            to_update.append(row)
    Provider.objects.bulk_update(to_update, [*PROVIDER_FIELDS, "removed_at"], batch_size=500)
    return existing, len(to_update)


def _upsert_models(
    providers: list[ProviderData],
    provider_rows: dict[str, Provider],
    existing: dict[tuple[str, str], CatalogModel],
    now: datetime,
    counts: dict,
) -> list[ModelPrice]:
    to_create, to_update, priced = [], [], []
    for provider in providers:
        for data in provider.models:
            values = _model_values(data)
            row = existing.get((provider.slug, data.model_id))
            if row is None:
                row = CatalogModel(
                    provider=provider_rows[provider.slug],
                    model_id=data.model_id,
                    first_seen_at=now,
                    **values,
                )
                to_create.append(row)
                if data.price:
                    priced.append((row, data, BEGINNING))
                continue
            old_price = tuple(getattr(row, f) for f in PRICE_FIELDS)
            if row.removed_at or any(getattr(row, f) != v for f, v in values.items()):
                for name, value in values.items():
                    setattr(row, name, value)
                row.removed_at = None
                to_update.append(row)
            if data.price and old_price != tuple(values[f] for f in PRICE_FIELDS):
                had_price = old_price[0] is not None
                priced.append((row, data, now if had_price else BEGINNING))
                counts["prices_changed"] += had_price
    CatalogModel.objects.bulk_create(to_create, batch_size=2000)
    CatalogModel.objects.bulk_update(
        to_update, [*MODEL_FIELDS, *PRICE_FIELDS, "removed_at"], batch_size=1000
    )
    counts["models_added"] = len(to_create)
    counts["models_updated"] = len(to_update)
    return [
        ModelPrice(
            model=row,
            effective_from=effective_from,
            input=data.price.input,
            output=data.price.output,
            cache_read=data.price.cache_read,
            cache_write=data.price.cache_write,
        )
        for row, data, effective_from in priced
    ]
