"""Grow the benchmark's "big" organization to BENCH_GROW_TO events (default 25,000,000) over the
same 90 days, with the de-duplication keys the API would have stored, and roll them up (timed).

`make bench` with BENCH_SCALE=full runs it between two ingestion runs, so the ingestion rate is
measured with 1M and with 25M events stored.
"""

# ruff: noqa: I001 - setup_db must come first: it configures Django.
import json
import os

from setup_db import require_postgresql

from bench_tab import ensure_events, timed_rollup

TOTAL = int(os.environ.get("BENCH_GROW_TO", "25000000"))


def main() -> dict:
    require_postgresql()
    ensure_events("big", TOTAL)
    result: dict = {}
    timed_rollup("rollup_after_growing", result)
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
