"""The vendored plotly bundle draws every trace type the tabs build, in plotly.py's version."""

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
    """Every trace type the module writes: `"type": "<trace>"` in a dict that carries data
    (x, y, z, labels or values), which tells a trace from an axis such as {"type": "date"}."""
    tree = ast.parse(path.read_text())
    types = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Dict):
            continue
        entries = {
            key.value: value
            for key, value in zip(node.keys, node.values, strict=True)
            if isinstance(key, ast.Constant)
        }
        kind = entries.get("type")
        if isinstance(kind, ast.Constant) and {"x", "y", "z", "labels", "values"} & set(entries):
            types.add(kind.value)
    return types


def test_the_bundle_has_every_trace_type_the_charts_use():
    used = trace_types_built_by(ROOT / "usage" / "charts.py")
    assert {"bar", "heatmap", "pie", "scatter"} <= used  # read off usage/charts.py
    assert used <= CARTESIAN_TRACES
    assert trace_types_built_by(ROOT / "audit" / "charts.py") <= CARTESIAN_TRACES


def test_the_bundle_is_the_partial_one_in_the_version_plotly_py_builds_figures_for():
    header = BUNDLE.read_text()[:200]
    version = re.search(r"plotly\.js \(cartesian - minified\) v(\S+)", header)
    assert version, header
    assert version.group(1) == plotly.offline.get_plotlyjs_version()
    assert BUNDLE.stat().st_size < 2_000_000  # the full bundle is 4.8 MB
    assert (BUNDLE.parent / "plotly-cartesian.LICENSE").read_text().startswith("MIT License")
