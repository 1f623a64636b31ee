"""Plotly figures for the Usage tab, built in Python and handed to the page as JSON.

Every figure has a title and axis titles with units; the template puts a table beside each.
Money is converted from integer microdollars to dollars here, for plotting only.
"""

from dataclasses import replace
from decimal import Decimal

import plotly.graph_objects as go
import plotly.io as pio
from django.core.cache import cache

from kilo_dashboard.money import chart_dollars

from .selectors import PAGE_CACHE_SECONDS, WEEKDAYS, UsagePage

ACCENT = "#3b4cca"
PALETTE = ["#3b4cca", "#1f7a4d", "#a35200", "#7a4bb5", "#0f7c8c", "#b42318", "#52606d", "#c2185b"]
FONT = {"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 12}
CONFIG = {"displaylogo": False, "responsive": True}


def _usd(microdollars: int) -> Decimal:
    return chart_dollars(microdollars)


def _layout(title: str, x_title: str, y_title: str, **extra: object) -> dict:
    return {
        "title": {"text": title, "x": 0, "font": {"size": 15}},
        "xaxis": {"title": {"text": x_title}, "automargin": True},
        "yaxis": {"title": {"text": y_title}, "automargin": True, "rangemode": "tozero"},
        "font": FONT,
        "margin": {"l": 10, "r": 10, "t": 48, "b": 10},
        "height": 340,
        "paper_bgcolor": "#ffffff",
        "plot_bgcolor": "#ffffff",
        "colorway": PALETTE,
        "legend": {"orientation": "h", "x": 0, "y": -0.42, "yanchor": "top"},
        **extra,
    }


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


def _json(figure: go.Figure) -> str:
    # Embedded in a <script type="application/json">: escape what could close the tag.
    text = pio.to_json(figure, validate=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def daily_spend(page: UsagePage) -> str:
    days = [row.day.isoformat() for row in page.days]
    figure = go.Figure(
        go.Bar(
            x=days, y=[_usd(r.totals.cost) for r in page.days], name="Spend", marker_color=ACCENT
        ),
        layout=_layout(
            "Daily spend", "Day", "Spend (USD)", yaxis_tickprefix="$", xaxis=_day_axis(page)
        ),
    )
    return _json(figure)


def daily_requests(page: UsagePage) -> str:
    days = [row.day.isoformat() for row in page.days]
    figure = go.Figure(
        [
            go.Bar(x=days, y=[r.totals.successes for r in page.days], name="Successful"),
            go.Bar(
                x=days,
                y=[r.totals.errors for r in page.days],
                name="Errors",
                marker_color="#b42318",
            ),
        ],
        layout=_layout(
            "Daily requests", "Day", "Requests (count)", barmode="stack", xaxis=_day_axis(page)
        ),
    )
    return _json(figure)


def daily_tokens(page: UsagePage) -> str:
    days = [row.day.isoformat() for row in page.days]
    series = [
        ("Input", "input_tokens"),
        ("Output", "output_tokens"),
        ("Cache read", "cache_read_tokens"),
        ("Cache write", "cache_write_tokens"),
    ]
    figure = go.Figure(
        [
            go.Bar(x=days, y=[getattr(r.totals, attr) for r in page.days], name=name)
            for name, attr in series
        ],
        layout=_layout(
            "Daily tokens", "Day", "Tokens (count)", barmode="stack", xaxis=_day_axis(page)
        ),
    )
    return _json(figure)


def weekly_pattern(page: UsagePage, time_zone: str) -> str:
    figure = go.Figure(
        go.Heatmap(
            z=page.weekly,
            x=[f"{h:02d}:00" for h in range(24)],
            y=list(WEEKDAYS),
            colorscale=[[0, "#f5f7fa"], [1, ACCENT]],
            # From zero: with plotly's own bounds an all-zero week spans -0.4 to 0.4.
            zmin=0,
            zmax=max(1, max((max(row) for row in page.weekly), default=0)),
            colorbar={"title": {"text": "Requests"}},
            hovertemplate="%{y} %{x}: %{z} requests<extra></extra>",
        ),
        layout=_layout(
            f"Weekly pattern ({time_zone})",
            f"Hour of day ({time_zone})",
            "Day of week",
            yaxis={"autorange": "reversed", "title": {"text": "Day of week"}},
            # Every third hour, upright: 24 rotated labels crowd a phone's width.
            xaxis={
                "title": {"text": f"Hour of day ({time_zone})"},
                "tickvals": [f"{h:02d}:00" for h in range(0, 24, 3)],
                "tickangle": 0,
                "automargin": True,
            },
        ),
    )
    return _json(figure)


def monthly(page: UsagePage) -> str:
    labels = [
        row.month.strftime("%b %Y") + (" (to date)" if row.partial else "") for row in page.months
    ]
    text = [f"{row.change:+.0%}" if row.change is not None else "" for row in page.months]
    figure = go.Figure(
        go.Bar(
            x=labels,
            y=[_usd(row.totals.cost) for row in page.months],
            text=text,
            textposition="outside",
            marker_color=ACCENT,
            name="Spend",
        ),
        layout=_layout(
            "Monthly spend, month over month", "Month", "Spend (USD)", yaxis_tickprefix="$"
        ),
    )
    return _json(figure)


def models_requests(page: UsagePage) -> str:
    rows = list(reversed(page.models[:15]))
    figure = go.Figure(
        go.Bar(
            y=[r.model for r in rows],
            x=[r.totals.requests for r in rows],
            orientation="h",
            marker_color=ACCENT,
            name="Requests",
        ),
        layout=_layout("Requests by model", "Requests (count)", "Model"),
    )
    return _json(figure)


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


def models_cost(page: UsagePage) -> str:
    figure = go.Figure(
        go.Pie(
            labels=[r.model for r in page.models],
            values=[_usd(r.totals.cost) for r in page.models],
            hole=0.45,
            sort=True,
            hovertemplate="%{label}: $%{value:,.2f} (%{percent})<extra></extra>",
            textposition="inside",
            textinfo="percent",
        ),
        layout=_pie_layout("Cost by model (USD)"),
    )
    return _json(figure)


def providers_share(page: UsagePage) -> str:
    figure = go.Figure(
        go.Pie(
            labels=[name for name, _, _ in page.providers],
            values=[totals.requests for _, totals, _ in page.providers],
            hole=0.45,
            hovertemplate="%{label}: %{value:,} requests (%{percent})<extra></extra>",
            textposition="inside",
            textinfo="percent",
        ),
        layout=_pie_layout("Requests by provider (share)"),
    )
    return _json(figure)


def members_top(page: UsagePage) -> str:
    rows = sorted(page.members or [], key=lambda r: -r.totals.requests)[:10][::-1]
    by_cost = sorted(page.members or [], key=lambda r: -r.totals.cost)[:10][::-1]
    figure = go.Figure(
        [
            go.Bar(
                y=[r.name for r in rows],
                x=[r.totals.requests for r in rows],
                orientation="h",
                name="Requests",
                xaxis="x",
            ),
            go.Bar(
                y=[r.name for r in by_cost],
                x=[_usd(r.totals.cost) for r in by_cost],
                orientation="h",
                name="Spend (USD)",
                xaxis="x2",
                yaxis="y2",
            ),
        ],
        layout=_layout(
            "Top members by requests and by spend",
            "Requests (count)",
            "Member",
            xaxis={"title": {"text": "Requests (count)"}, "domain": [0, 0.4], "automargin": True},
            xaxis2={
                "title": {"text": "Spend (USD)"},
                "tickprefix": "$",
                "domain": [0.62, 1],
                "anchor": "y2",
            },
            yaxis2={"anchor": "x2", "automargin": True},
        ),
    )
    return _json(figure)


def members_distribution(page: UsagePage) -> str:
    rows = page.members or []  # sorted by spend, highest first
    cumulative, running = [], 0.0
    for row in rows:
        running += row.cost_share
        cumulative.append(round(running * 100, 1))
    names = [r.name for r in rows]
    figure = go.Figure(
        [
            go.Bar(
                x=names,
                y=[_usd(r.totals.cost) for r in rows],
                name="Spend (USD)",
                marker_color=ACCENT,
            ),
            go.Scatter(
                x=names, y=cumulative, name="Cumulative share (%)", yaxis="y2", mode="lines+markers"
            ),
        ],
        layout=_layout(
            "How spend is distributed across members",
            "Member (highest spend first)",
            "Spend (USD)",
            yaxis_tickprefix="$",
            height=400,
            legend={"orientation": "h", "x": 0, "y": -0.6, "yanchor": "top"},
            yaxis2={
                "title": {"text": "Cumulative share (%)"},
                "overlaying": "y",
                "side": "right",
                "range": [0, 105],
            },
        ),
    )
    return _json(figure)


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
