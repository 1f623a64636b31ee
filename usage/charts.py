"""Plotly figures for the Usage tab, built in Python and handed to the page as JSON.

Every figure has a title and axis titles with units; the template puts a table beside each.
Money is converted from integer microdollars to dollars here, for plotting only.
"""

from dataclasses import replace
from decimal import Decimal

from django.core.cache import cache

from kilo_dashboard.figures import ACCENT, FONT, GRID, PALETTE, figure_json
from kilo_dashboard.money import chart_dollars

from .selectors import PAGE_CACHE_SECONDS, WEEKDAYS, UsagePage

CONFIG = {"displaylogo": False, "responsive": True}


def _usd(microdollars: int) -> Decimal:
    return chart_dollars(microdollars)


def _axis(title: str, **more: object) -> dict:
    return {"title": {"text": title}, "automargin": True, **GRID, **more}


def _layout(title: str, x_title: str, y_title: str, **extra: object) -> dict:
    """A figure's layout; `extra` replaces whole keys (e.g. a custom `xaxis`)."""
    return {
        "title": {"text": title, "x": 0, "font": {"size": 15}},
        "xaxis": _axis(x_title),
        "yaxis": _axis(y_title, rangemode="tozero"),
        "font": FONT,
        "margin": {"l": 10, "r": 10, "t": 48, "b": 10},
        "height": 340,
        "paper_bgcolor": "#ffffff",
        "plot_bgcolor": "#ffffff",
        "colorway": PALETTE,
        "legend": {"orientation": "h", "x": 0, "y": -0.42, "yanchor": "top"},
        **extra,
    }


def _bar(x: list, y: list, name: str, **more: object) -> dict:
    return {"type": "bar", "x": x, "y": y, "name": name, **more}


DAY_MS = 24 * 3600 * 1000


def _day_axis(page: UsagePage) -> dict:
    """An x axis of calendar days: ticks on whole days, labelled "3 Nov", never inside a day.

    Left to itself plotly puts ticks between days on a short range (one day: "23:59:59.9995").
    Up to two weeks every day gets a tick; beyond, plotly spaces them, whole days only.
    """
    axis = {"title": {"text": "Day"}, "type": "date", "automargin": True, "tickformat": "%-d %b"}
    if len(page.days) <= 14:
        axis |= {"dtick": DAY_MS, "tick0": page.days[0].day.isoformat() if page.days else None}
    else:
        axis |= {"nticks": 8}
    return axis


def daily_spend(page: UsagePage) -> str:
    days = [row.day.isoformat() for row in page.days]
    spend = [_usd(r.totals.cost) for r in page.days]
    return figure_json(
        [_bar(days, spend, "Spend", marker={"color": ACCENT})],
        _layout(
            "Daily spend",
            "Day",
            "Spend (USD)",
            xaxis=_day_axis(page),
            yaxis=_axis("Spend (USD)", rangemode="tozero", tickprefix="$"),
        ),
    )


def daily_requests(page: UsagePage) -> str:
    days = [row.day.isoformat() for row in page.days]
    return figure_json(
        [
            _bar(days, [r.totals.successes for r in page.days], "Successful"),
            _bar(days, [r.totals.errors for r in page.days], "Errors", marker={"color": "#b42318"}),
        ],
        _layout(
            "Daily requests", "Day", "Requests (count)", barmode="stack", xaxis=_day_axis(page)
        ),
    )


def daily_tokens(page: UsagePage) -> str:
    days = [row.day.isoformat() for row in page.days]
    series = [
        ("Input", "input_tokens"),
        ("Output", "output_tokens"),
        ("Cache read", "cache_read_tokens"),
        ("Cache write", "cache_write_tokens"),
    ]
    return figure_json(
        [_bar(days, [getattr(r.totals, attr) for r in page.days], name) for name, attr in series],
        _layout("Daily tokens", "Day", "Tokens (count)", barmode="stack", xaxis=_day_axis(page)),
    )


def weekly_pattern(page: UsagePage, time_zone: str) -> str:
    hours = [f"{h:02d}:00" for h in range(24)]
    heatmap = {
        "type": "heatmap",
        "z": page.weekly,
        "x": hours,
        "y": list(WEEKDAYS),
        "colorscale": [[0, "#f5f7fa"], [1, ACCENT]],
        # From zero: with plotly's own bounds an all-zero week spans -0.4 to 0.4.
        "zmin": 0,
        "zmax": max(1, max((max(row) for row in page.weekly), default=0)),
        "colorbar": {"title": {"text": "Requests"}},
        "hovertemplate": "%{y} %{x}: %{z} requests<extra></extra>",
    }
    return figure_json(
        [heatmap],
        _layout(
            f"Weekly pattern ({time_zone})",
            f"Hour of day ({time_zone})",
            "Day of week",
            yaxis={"autorange": "reversed", "title": {"text": "Day of week"}, "automargin": True},
            # Every third hour, upright: 24 rotated labels crowd a phone's width.
            xaxis={
                "title": {"text": f"Hour of day ({time_zone})"},
                "tickvals": hours[::3],
                "tickangle": 0,
                "automargin": True,
            },
        ),
    )


def monthly(page: UsagePage) -> str:
    labels = [
        row.month.strftime("%b %Y") + (" (to date)" if row.partial else "") for row in page.months
    ]
    text = [f"{row.change:+.0%}" if row.change is not None else "" for row in page.months]
    spend = [_usd(row.totals.cost) for row in page.months]
    return figure_json(
        [
            _bar(
                labels,
                spend,
                "Spend",
                text=text,
                textposition="outside",
                marker={"color": ACCENT},
            )
        ],
        _layout(
            "Monthly spend, month over month",
            "Month",
            "Spend (USD)",
            yaxis=_axis("Spend (USD)", rangemode="tozero", tickprefix="$"),
        ),
    )


def models_requests(page: UsagePage) -> str:
    rows = list(reversed(page.models[:15]))
    return figure_json(
        [
            _bar(
                [r.totals.requests for r in rows],
                [r.model for r in rows],
                "Requests",
                orientation="h",
                marker={"color": ACCENT},
            )
        ],
        _layout("Requests by model", "Requests (count)", "Model"),
    )


def _pie_layout(title: str) -> dict:
    """Percentages inside the slices (hidden where they do not fit), and a legend tall enough
    for every label without a scroll bar, also on a phone."""
    return _layout(
        title,
        "",
        "",
        height=460,
        uniformtext={"minsize": 10, "mode": "hide"},
        legend={"orientation": "h", "x": 0, "y": -0.02, "yanchor": "top"},
    )


def _pie(labels: list, values: list, hovertemplate: str, **more: object) -> dict:
    return {
        "type": "pie",
        "labels": labels,
        "values": values,
        "hole": 0.45,
        "hovertemplate": hovertemplate,
        "textposition": "inside",
        "textinfo": "percent",
        **more,
    }


def models_cost(page: UsagePage) -> str:
    return figure_json(
        [
            _pie(
                [r.model for r in page.models],
                [_usd(r.totals.cost) for r in page.models],
                "%{label}: $%{value:,.2f} (%{percent})<extra></extra>",
                sort=True,
            )
        ],
        _pie_layout("Cost by model (USD)"),
    )


def providers_share(page: UsagePage) -> str:
    return figure_json(
        [
            _pie(
                [name for name, _, _ in page.providers],
                [totals.requests for _, totals, _ in page.providers],
                "%{label}: %{value:,} requests (%{percent})<extra></extra>",
            )
        ],
        _pie_layout("Requests by provider (share)"),
    )


def members_top(page: UsagePage) -> str:
    rows = sorted(page.members or [], key=lambda r: -r.totals.requests)[:10][::-1]
    by_cost = sorted(page.members or [], key=lambda r: -r.totals.cost)[:10][::-1]
    return figure_json(
        [
            _bar(
                [r.totals.requests for r in rows],
                [r.name for r in rows],
                "Requests",
                orientation="h",
                xaxis="x",
            ),
            _bar(
                [_usd(r.totals.cost) for r in by_cost],
                [r.name for r in by_cost],
                "Spend (USD)",
                orientation="h",
                xaxis="x2",
                yaxis="y2",
            ),
        ],
        _layout(
            "Top members by requests and by spend",
            "Requests (count)",
            "Member",
            xaxis=_axis("Requests (count)", domain=[0, 0.4]),
            xaxis2={
                "title": {"text": "Spend (USD)"},
                "tickprefix": "$",
                "domain": [0.62, 1],
                "anchor": "y2",
                **GRID,
            },
            yaxis2={"anchor": "x2", "automargin": True},
        ),
    )


def members_distribution(page: UsagePage) -> str:
    rows = page.members or []  # sorted by spend, highest first
    cumulative, running = [], 0.0
    for row in rows:
        running += row.cost_share
        cumulative.append(round(running * 100, 1))
    names = [r.name for r in rows]
    return figure_json(
        [
            _bar(
                names, [_usd(r.totals.cost) for r in rows], "Spend (USD)", marker={"color": ACCENT}
            ),
            {
                "type": "scatter",
                "x": names,
                "y": cumulative,
                "name": "Cumulative share (%)",
                "yaxis": "y2",
                "mode": "lines+markers",
            },
        ],
        _layout(
            "How spend is distributed across members",
            "Member (highest spend first)",
            "Spend (USD)",
            yaxis=_axis("Spend (USD)", rangemode="tozero", tickprefix="$"),
            height=400,
            legend={"orientation": "h", "x": 0, "y": -0.6, "yanchor": "top"},
            yaxis2={
                "title": {"text": "Cumulative share (%)"},
                "overlaying": "y",
                "side": "right",
                "range": [0, 105],
                "showgrid": False,
            },
        ),
    )


def build_all(page: UsagePage, time_zone: str) -> dict[str, str]:
    charts = {
        "daily_spend": daily_spend(page),
        "daily_requests": daily_requests(page),
        "daily_tokens": daily_tokens(page),
        "weekly": weekly_pattern(page, time_zone),
        "monthly": monthly(page),
        "models_requests": models_requests(page),
        "models_cost": models_cost(page),
        "providers": providers_share(page),
    }
    if page.members is not None:
        charts["members_top"] = members_top(page)
        charts["members_distribution"] = members_distribution(page)
    return charts


def build_all_cached(page: UsagePage, time_zone: str) -> dict[str, str]:
    """build_all, cached beside the page (same key: organization, filters, rollup version).

    Built from the members in the selectors' order (by spend), whatever order the table shows,
    so that every request for the same page gets the same figures.
    """
    if not page.cache_key:
        return build_all(page, time_zone)
    key = f"{page.cache_key}:figures"
    figures = cache.get(key)
    if figures is None:
        canonical = page
        if page.members is not None:
            members = sorted(page.members, key=lambda r: (-r.totals.cost, r.email))
            canonical = replace(page, members=members)
        figures = build_all(canonical, time_zone)
        cache.set(key, figures, timeout=PAGE_CACHE_SECONDS)
    return figures
