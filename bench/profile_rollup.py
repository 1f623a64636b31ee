"""Time every statement of a rollup run (catch-up of BENCH_CATCHUP_EVENTS over the last 7 days).

Run on an existing benchmark database (after bench_tab.py made the "big" organization):
    DATABASE_URL=... DJANGO_ENV=development DEBUG=false python bench/profile_rollup.py
Prints the statements sorted by total time, with /proc/loadavg.
"""

# ruff: noqa: I001 - setup_db must come first: it configures Django.
import json
import os
import time
import uuid
from collections import defaultdict
from datetime import timedelta

from setup_db import bench_org, loadavg, require_postgresql

from django.db import connection
from django.utils import timezone

from bench_tab import MEMBERS, generate
from usage.rollup import rollup_until_caught_up

CATCH_UP = int(os.environ.get("BENCH_CATCHUP_EVENTS", "1000000"))


def main() -> None:
    require_postgresql()
    org, users, _ = bench_org("big", MEMBERS)
    end = timezone.now() - timedelta(minutes=1)
    generate(
        org.pk,
        users,
        CATCH_UP,
        end - timedelta(days=7),
        timedelta(days=7),
        f"p{uuid.uuid4().hex[:8]}-",
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE usage_usageevent")
    spent: dict[str, float] = defaultdict(float)

    def timer(execute, sql, params, many, context):  # noqa: ANN001, ANN202
        began = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            spent[" ".join(sql.split())[:110]] += time.perf_counter() - began

    load = loadavg()
    began = time.perf_counter()
    with connection.execute_wrapper(timer):
        reports = rollup_until_caught_up()
    total = time.perf_counter() - began
    print(
        json.dumps(
            {
                "events": sum(r.events for r in reports),
                "seconds": round(total, 2),
                "loadavg_before": load,
                "loadavg_after": loadavg(),
            }
        )
    )
    for sql, seconds in sorted(spent.items(), key=lambda kv: -kv[1])[:16]:
        print(f"{seconds:7.2f}s  {sql}")


if __name__ == "__main__":
    main()
