"""The Audit logs tab's chart: events per day or week of the selected range.

The figure is plotly's JSON (data + layout) built here as a plain dict: plotly.graph_objects
validates every property on construction, which costs more than the whole page's queries, and
a bar chart of one trace needs none of it. plotly.min.js draws it from the embedded JSON.
"""

import json

from .selectors import Totals

ACCENT = "#3b4cca"
FONT = {"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 12}


def events_per_period(totals: Totals) -> str:
    """The figure's JSON. No title of its own: the card's heading above it says what it is."""
    unit = "Week (starting Monday)" if totals.unit == "week" else "Day"
    figure = {
        "data": [
            {
                "type": "bar",
                "name": "Events",
                "x": [p.start.isoformat() for p in totals.periods],
                "y": [p.count for p in totals.periods],
                "marker": {"color": ACCENT},
                "hovertemplate": "%{x}: %{y:,d} events<extra></extra>",
            }
        ],
        "layout": {
            "xaxis": {"title": {"text": unit}, "automargin": True, "type": "date"},
            "yaxis": {
                "title": {"text": "Events"},
                "automargin": True,
                "rangemode": "tozero",
                "tickformat": ",d",
            },
            "font": FONT,
            "margin": {"l": 10, "r": 10, "t": 16, "b": 10},
            "height": 320,
            "paper_bgcolor": "#ffffff",
            "plot_bgcolor": "#ffffff",
        },
    }
    # Embedded in a <script type="application/json">: escape what could close the tag.
    text = json.dumps(figure, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
