"""The vendored plotly bundle draws every trace type the Usage tab builds, in plotly.py's version."""

import ast
import re
from pathlib import Path

import plotly.offline

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = ROOT / "static" / "js" / "plotly-cartesian.min.js"
# From the package's README (plotly.js-cartesian-dist-min): the trace modules it contains.
CARTESIAN_TRACES = {
    "bar", "box", "contour", "heatmap", "histogram", "histogram2d", "histogram2dcontour",
    "image", "pie", "scatter", "scatterternary", "violin",
}  # fmt: skip


def trace_types_built_by(path: Path) -> set[str]:
    """Every `go.<Trace>(...)` the module calls, as plotly.js trace type names."""
    tree = ast.parse(path.read_text())
    names = {
        node.func.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "go"
        and node.func.attr != "Figure"
    }
    return {name.lower() for name in names}


def test_the_bundle_has_every_trace_type_the_charts_use():
    used = trace_types_built_by(ROOT / "usage" / "charts.py")
    assert {"bar", "heatmap", "pie", "scatter"} <= used  # read off usage/charts.py
    assert used <= CARTESIAN_TRACES


def test_the_bundle_is_the_partial_one_in_the_version_plotly_py_builds_figures_for():
    header = BUNDLE.read_text()[:200]
    version = re.search(r"plotly\.js \(cartesian - minified\) v(\S+)", header)
    assert version, header
    assert version.group(1) == plotly.offline.get_plotlyjs_version()
    assert BUNDLE.stat().st_size < 2_000_000  # the full bundle is 4.8 MB
    assert (BUNDLE.parent / "plotly-cartesian.LICENSE").read_text().startswith("MIT License")
