"""Time to a settled Usage page in Chromium: what a person waits for, not just server time.

Usage: .venv/bin/python bench/usage_page_browser.py [BASE_URL] [RUNS]
Needs the demo running (`make run`; BASE_URL defaults to http://127.0.0.1:8000): DEBUG off, so
static files are served as in production (hashed, compressed, cached for a year by WhiteNoise).

Method: headless Debian Chromium (the test flags), 1366 x 900, signed in as the demo's owner.
"Settled" = every chart placeholder ([data-plotly]) has been drawn by plotly (.js-plotly-plot)
and every request has been answered: the later of the two moments, measured with
performance.now() from the navigation's start (the script then waits for the network to stay
idle, but that wait, 500 ms or more, is not counted).
- cold: a fresh browser context each run, first visit of the page (plotly and the charts script
  not cached yet; the sign-in page before it has cached the CSS and htmx);
- warm: the same page again in that context (hashed static files come from the cache).
Reported: median and worst of RUNS runs each, the server's share (navigation responseEnd), the
plotly bundle's bytes on the wire and decoded, and the load average (`/proc/loadavg`), since 2
CPUs shared with other work make every figure noisy. Nothing is asserted: this is a measurement.
"""

import json
import statistics
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

BASE = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000"
RUNS = int(sys.argv[2]) if len(sys.argv) > 2 else 5
PAGE = "/orgs/acme/usage/"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SETTLED = """() => {
  const wanted = document.querySelectorAll('[data-plotly]').length;
  const drawn = wanted > 0 && document.querySelectorAll('.js-plotly-plot').length === wanted;
  if (drawn && window.__chartsDrawnAt === undefined) window.__chartsDrawnAt = performance.now();
  return drawn;
}"""
TIMINGS = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const plotly = performance.getEntriesByType('resource').find(r => r.name.includes('plotly'));
  return {
    // The later of "every chart drawn" and the last response: not the moment Playwright saw
    // the network idle, which is at least 500 ms after the last request.
    settled_ms: Math.max(
      window.__chartsDrawnAt,
      ...performance.getEntriesByType('resource').map(r => r.responseEnd),
    ),
    server_ms: nav.responseEnd - nav.requestStart,
    plotly_transfer_bytes: plotly ? plotly.transferSize : null,
    plotly_decoded_bytes: plotly ? plotly.decodedBodySize : null,
    charts: document.querySelectorAll('.js-plotly-plot').length,
  };
}"""


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def measure(page) -> dict:  # noqa: ANN001
    page.goto(BASE + PAGE, wait_until="commit")
    page.wait_for_function(SETTLED, timeout=120_000, polling="raf")
    page.wait_for_load_state("networkidle")
    return page.evaluate(TIMINGS)


def main() -> None:
    runs: dict[str, list[dict]] = {"cold": [], "warm": []}
    before = load_average()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        for _ in range(RUNS):
            context = browser.new_context(viewport={"width": 1366, "height": 900})
            context.set_default_timeout(120_000)
            page = context.new_page()
            page.goto(f"{BASE}/accounts/login/")
            page.fill("input[name=login]", "owner@acme.test")
            page.fill("input[name=password]", "kilo-demo-pass")
            page.click("form button[type=submit]")
            page.wait_for_load_state("networkidle")
            runs["cold"].append(measure(page))
            runs["warm"].append(measure(page))
            context.close()
        browser.close()
    report = {"page": BASE + PAGE, "runs": RUNS, "loadavg_before": before}
    for kind, results in runs.items():
        settled = [r["settled_ms"] for r in results]
        report[kind] = {
            "settled_ms_median": round(statistics.median(settled)),
            "settled_ms_worst": round(max(settled)),
            "server_ms_median": round(statistics.median(r["server_ms"] for r in results)),
            "plotly_transfer_bytes": results[0]["plotly_transfer_bytes"],
            "plotly_decoded_bytes": results[0]["plotly_decoded_bytes"],
            "charts": results[0]["charts"],
        }
    report["loadavg_after"] = load_average()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
