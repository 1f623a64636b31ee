"""The tab's rows as HTML fragments, each rendered once and then reused.

A row has ~15 cells. Most (name, provider, context, prices, data policy...) change only with the
catalog: `providers/_model_head.html` and `_model_cells.html` render them once per (catalog version,
model). Usage,
status and the enable/disable button depend on the organization: `providers/_model_row.html`
wraps the cells with them, once per (those cells, the model's decision, its 30-day usage, whether
the viewer may edit, the organization). Everything a row shows is in its key, so a policy change,
an opt-out toggle or a new rollup produces new keys (and a fresh render of only the rows whose
values changed); a sync that changes anything replaces the catalog version. A page then joins 50
ready-made strings instead of rendering ~750 template variables.

Fragments are kept in the process (an LRU of a few MB): cheaper than a cache round trip, and a
miss costs one template render.
"""

from collections import OrderedDict
from contextlib import suppress

from django.template.loader import get_template
from django.urls import reverse
from django.utils.safestring import SafeString

from kilo_dashboard.templatetags.money import microdollars, usd_per_million

from .listing import Row
from .models import CatalogModel

FACT_LABEL = {"yes": "Yes", "no": "No", "unknown": "Unknown"}
# Room for the whole catalog's cells (5,276 models, ~1 KB each) and as many rows: at most a few
# MB per process, the least recently used (e.g. of a replaced catalog version) dropped first.
_FRAGMENTS_SIZE = 12_000
_fragments: OrderedDict[tuple, SafeString | tuple] = OrderedDict()


def _get(key: tuple) -> SafeString | tuple | None:
    html = _fragments.get(key)
    if html is not None:
        with suppress(KeyError):  # another thread may have just dropped it
            _fragments.move_to_end(key)
    return html


def _put(key: tuple, html: str | tuple) -> SafeString | tuple:
    fragment = _fragments[key] = SafeString(html) if isinstance(html, str) else html
    while len(_fragments) > _FRAGMENTS_SIZE:
        with suppress(KeyError):
            _fragments.popitem(last=False)
    return fragment


def _count(value: int | None) -> str:
    return "–" if value is None else f"{value:,}"


def model_cells_context(model: CatalogModel) -> dict:
    provider = model.provider
    retains = FACT_LABEL[provider.retains_prompts]
    if provider.retention_days is not None:
        retains += f" ({provider.retention_days} d)"
    badges = [
        label
        for flag, label in (
            (model.open_weights, "open weights"),
            (model.reasoning, "reasoning"),
            (model.tool_call, "tools"),
        )
        if flag
    ]
    return {
        "key": f"{provider.slug}/{model.model_id}",
        "name": model.name,
        "badges": badges,
        "provider": provider.name,
        "headquarters": provider.headquarters,
        "context": _count(model.context_length),
        "max_output": _count(model.max_output),
        "modalities": (
            f"{', '.join(model.input_modalities)} → {', '.join(model.output_modalities)}"
        ),
        "input_price": usd_per_million(model.input_price) if model.input_price is not None else "–",
        "output_price": (
            usd_per_million(model.output_price) if model.output_price is not None else "–"
        ),
        "released": model.release_date.strftime("%b %Y") if model.release_date else "–",
        "trains": FACT_LABEL[provider.trains_on_prompts],
        "trains_note": provider.policy_notes.get("trains_on_prompts", ""),
        "retains": retains,
        "publishes": FACT_LABEL[provider.can_publish],
    }


def model_cells(pks: list[int], catalog: str) -> dict[int, tuple[SafeString, SafeString]]:
    """Each model's rendered catalog part of a row: its row header (name, id, badges) and its
    fact cells. One query for those not rendered yet."""
    found = {pk: html for pk in pks if (html := _get(("cells", catalog, pk))) is not None}
    missing = [pk for pk in pks if pk not in found]
    if missing:
        head = get_template("providers/_model_head.html")
        cells = get_template("providers/_model_cells.html")
        models = (
            CatalogModel.objects.select_related("provider")
            .defer("modality_tags", "provider__policy_sources", "provider__datacenters")
            .in_bulk(missing)
        )
        for pk, model in models.items():
            context = model_cells_context(model)
            pair = (SafeString(head.render(context)), SafeString(cells.render(context)))
            found[pk] = _put(("cells", catalog, pk), pair)
    return found


def present(rows: list[Row], catalog: str, *, editable: bool, org_slug: str) -> list[SafeString]:
    """The page's rows, in order, as HTML."""
    keys = [
        ("row", catalog, row.pk, row.reason, row.requests, row.spend, editable, org_slug)
        for row in rows
    ]
    found = [_get(key) for key in keys]
    missing = [row for row, html in zip(rows, found, strict=True) if html is None]
    if missing:
        cells = model_cells([row.pk for row in missing], catalog)
        template = get_template("providers/_model_row.html")
        urls = {
            "enable_url": reverse("providers_model_enable", args=[org_slug]),
            "disable_url": reverse("providers_model_disable", args=[org_slug]),
        }
        for index, (row, key) in enumerate(zip(rows, keys, strict=True)):
            if found[index] is None:
                head, facts = cells[row.pk]
                context = {"r": row, "head": head, "cells": facts, "editable": editable, **urls}
                context["requests"] = f"{row.requests:,}" if row.requests else ""
                context["spend"] = microdollars(row.spend) if row.requests else ""
                found[index] = _put(key, template.render(context))
    return found
