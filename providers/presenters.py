"""Display strings for the tab's rows, computed once in Python.

The table has ~15 cells per row; Django's template filters (intcomma, date, money) cost more than
the whole database work of the page, so the cells arrive ready to print.
"""

from kilo_dashboard.templatetags.money import microdollars, usd_per_million

from .listing import Row

FACT_LABEL = {"yes": "Yes", "no": "No", "unknown": "Unknown"}


def _count(value: int | None) -> str:
    return "–" if value is None else f"{value:,}"


def present(row: Row) -> dict:
    model, provider = row.model, row.model.provider
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
        "key": row.key,
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
        "requests": f"{row.requests:,}" if row.requests else "",
        "spend": microdollars(row.spend) if row.requests else "",
        "allowed": row.allowed,
        "reason": row.reason_text,
        "opt_out": row.opt_out,
    }
