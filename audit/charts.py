"""The Audit logs tab's chart: events per day or week of the selected range.

The figure is plotly's JSON (data + layout) built here as a plain dict: plotly.graph_objects
validates every property on construction, which costs more than the whole page's queries, and
a bar chart of one trace needs none of it. plotly.min.js draws it from the embedded JSON.
"""

from kilo_dashboard.figures import ACCENT, FONT, figure_json

from .selectors import Totals


def events_per_period(totals: Totals) -> str:
    """The figure's JSON. No title of its own: the card's heading above it says what it is."""
    unit = "Week (starting Monday)" if totals.unit == "week" else "Day"
    return figure_json(
        [
            {
                "type": "bar",
                "name": "Events",
                "x": [p.start.isoformat() for p in totals.periods],
                "y": [p.count for p in totals.periods],
                "marker": {"color": ACCENT},
                "hovertemplate": "%{x}: %{y:,d} events<extra></extra>",
            }
        ],
        {
            "xaxis": {"title": {"text": unit}, "automargin": True, "type": "date"},
            "yaxis": {
                "title": {"text": "Events"},
                "automargin": True,
                "rangemode": "tozero",
                "tickformat": ",d",
                # Whole events: with small counts plotly would tick at halves, shown as 0, 1, 1, 2.
                **({"dtick": 1} if max((p.count for p in totals.periods), default=0) <= 8 else {}),
            },
            "font": FONT,
            "margin": {"l": 10, "r": 10, "t": 16, "b": 10},
            "height": 320,
            "paper_bgcolor": "#ffffff",
            "plot_bgcolor": "#ffffff",
        },
    )
