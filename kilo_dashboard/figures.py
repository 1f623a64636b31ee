"""Plotly figures as plain JSON: {"data": [...traces], "layout": {...}}, drawn by plotly.min.js.

The tabs build their figures as dicts rather than plotly.graph_objects: graph objects validate
and deep-copy every property (and embed plotly.py's 7 KB default template in each figure),
which cost more than all of a page's queries. The figure reference is plotly's own
(https://plotly.com/javascript/reference/); tests read the JSON back.
"""

import json
from decimal import Decimal

ACCENT = "#3b4cca"
PALETTE = ["#3b4cca", "#1f7a4d", "#a35200", "#7a4bb5", "#0f7c8c", "#b42318", "#52606d", "#c2185b"]
FONT = {"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 12}
GRID = {"gridcolor": "#e6e9ef", "zerolinecolor": "#c9ced6"}


def _plain(value: object) -> object:
    if isinstance(value, Decimal):  # dollars for plotting (kilo_dashboard.money.chart_dollars)
        return float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def figure_json(data: list[dict], layout: dict) -> str:
    """The figure for a <script type="application/json">: escaped so it cannot close the tag."""
    text = json.dumps({"data": data, "layout": layout}, separators=(",", ":"), default=_plain)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
