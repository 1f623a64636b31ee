"""Usage tab server time at 10M events vs 10k events, and rollup catch-up of 1M events.

Method:
- Two organizations with 100 members and 20 models: "big" with BENCH_BIG_EVENTS (10,000,000)
  events evenly over 90 days, "small" with 10,000. Every member x model pair occurs every day in
  "big" (the worst case for rollup sizes). Rows are generated inside PostgreSQL with
  generate_series (1M per statement), then rolled up with the production rollup.
- The tab is timed in-process through Django's test client (server time: URL routing, access
  gate, selectors, plotly figures, template), default view and a 90-day view, 5 warm-ups then
  BENCH_TAB_REQUESTS measured requests each; p50/p95 reported with the query count.
- Catch-up: 1,000,000 new events over the last 7 days are inserted for "big", then
  rollup_until_caught_up() is timed.
"""

# ruff: noqa: I001 - setup_db must come first: it configures Django.
import json
import os
import statistics
import time
from datetime import timedelta

from setup_db import MODELS, bench_org, require_postgresql

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import User
from usage.models import UsageEvent
from usage.rollup import rollup_until_caught_up

BIG = int(os.environ.get("BENCH_BIG_EVENTS", "10000000"))
SMALL = 10_000
CATCH_UP = int(os.environ.get("BENCH_CATCHUP_EVENTS", "1000000"))
REQUESTS = int(os.environ.get("BENCH_TAB_REQUESTS", "40"))
CHUNK = 1_000_000

INSERT = """
INSERT INTO usage_usageevent (organization_id, occurred_at, received_at, request_id, user_id,
    user_email, model, provider, feature, project, input_tokens, output_tokens,
    cache_read_tokens, cache_write_tokens, cost_microdollars, cost_from_catalog, latency_ms,
    status, error_code)
SELECT %(org)s,
       %(start)s::timestamptz + ((g - 1)::float8 / %(total)s) * %(span)s::interval,
       now(), %(prefix)s || g,
       (%(users)s::bigint[])[1 + (g * 7919) %% %(members)s],
       '', (%(models)s::text[])[1 + (g * 104729) %% 20], (%(providers)s::text[])[1 + (g * 104729) %% 20],
       '', '', 500 + (g * 13) %% 6000, 50 + (g * 17) %% 1500, (g * 19) %% 2000, 0,
       200 + (g * 23) %% 30000, true, 150 + (g * 31) %% 12000,
       CASE WHEN g %% 47 = 0 THEN 'error' ELSE 'success' END, ''
FROM generate_series(%(first)s::bigint, %(last)s::bigint) AS g
"""


def generate(
    org_id: int, users: list[int], total: int, start, span: timedelta, prefix: str
) -> float:
    began = time.perf_counter()
    with connection.cursor() as cursor:
        for first in range(1, total + 1, CHUNK):
            last = min(first + CHUNK - 1, total)
            cursor.execute(
                INSERT,
                {
                    "org": org_id,
                    "start": start,
                    "total": total,
                    "span": span,
                    "prefix": prefix,
                    "users": users,
                    "members": len(users),
                    "models": [m for _, m in MODELS],
                    "providers": [p for p, _ in MODELS],
                    "first": first,
                    "last": last,
                },
            )
            print(f"  generated {last:,}/{total:,}", flush=True)
    return time.perf_counter() - began


def time_tab(user: User, slug: str, query: str) -> dict:
    client = Client()
    client.force_login(user)
    url = f"/orgs/{slug}/usage/{query}"
    for _ in range(5):
        if client.get(url).status_code != 200:
            raise SystemExit(f"{url} did not answer 200")
    samples = []
    for _ in range(REQUESTS):
        began = time.perf_counter()
        client.get(url)
        samples.append((time.perf_counter() - began) * 1000)
    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    samples.sort()
    return {
        "p50_ms": round(statistics.median(samples), 1),
        "p95_ms": round(samples[int(len(samples) * 0.95) - 1], 1),
        "queries": len(queries.captured_queries),
    }


def ensure_events(slug: str, total: int) -> tuple:
    org, users, _ = bench_org(slug)
    have = UsageEvent.objects.filter(organization_id=org.pk).count()
    seconds = 0.0
    if have < total:
        end = timezone.now() - timedelta(minutes=1)
        print(f"{slug}: generating {total:,} events", flush=True)
        seconds = generate(
            org.pk, users, total, end - timedelta(days=90), timedelta(days=90), f"{slug}-"
        )
    return org, User.objects.get(pk=users[0]), seconds


def main() -> dict:
    require_postgresql()
    big, big_owner, big_gen = ensure_events("big", BIG)
    small, small_owner, _ = ensure_events("small", SMALL)
    began = time.perf_counter()
    rollup_until_caught_up()
    initial_rollup = time.perf_counter() - began
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE") if connection.get_autocommit() else None
    result = {
        "big_events": UsageEvent.objects.filter(organization_id=big.pk).count(),
        "small_events": SMALL,
    }
    result["generate_big_seconds"] = round(big_gen, 1)
    result["initial_rollup_seconds"] = round(initial_rollup, 1)
    for label, query in (("default", ""), ("90d", "?range=90d")):
        result[f"tab_{label}_big"] = time_tab(big_owner, big.slug, query)
        result[f"tab_{label}_small"] = time_tab(small_owner, small.slug, query)
        result[f"tab_{label}_ratio_p95"] = round(
            result[f"tab_{label}_big"]["p95_ms"] / result[f"tab_{label}_small"]["p95_ms"], 2
        )
    if CATCH_UP:
        _, users, _ = bench_org("big")
        end = timezone.now() - timedelta(minutes=1)
        generate(
            big.pk,
            users,
            CATCH_UP,
            end - timedelta(days=7),
            timedelta(days=7),
            f"late{int(time.time())}-",
        )
        began = time.perf_counter()
        reports = rollup_until_caught_up()
        result["catch_up_events"] = sum(r.events for r in reports)
        result["catch_up_seconds"] = round(time.perf_counter() - began, 1)
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
