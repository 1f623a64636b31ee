"""Rollup cost and Usage tab latency on worst-case data, over real HTTP (gunicorn, PostgreSQL).

Worst case: every member x model pair occurs in every hour of the 90 days ("big" organization).
Event g of N belongs to pair g mod (members x models): member = pair mod members, model =
pair div members, so consecutive events walk all pairs and an hour (N / 2,160 events, at least
the number of pairs) holds every one of them. Rows are generated inside PostgreSQL with
generate_series, then rolled up by the production rollup. A "small" organization of 10,000
events with the same members and models is the reference.

Measured, each figure with /proc/loadavg beside it:
- first rollup of everything; rollup of 1 new event (5 times); of 100 late events spread over 80
  different days; of CATCH_UP new events over the last 7 days (on top of what sits there);
- every Usage view (default, 90 days, by model, by member, member + model) requested over HTTP
  from gunicorn, big and small interleaved request by request. "warm": repeated requests (the
  page and figures come from the cache until the next rollup); "cold": the organization's
  rollup version is changed before each request, as a rollup run of live events does, so every
  page is rebuilt from the rollups (the settled days' sums stay cached); "after_late": its
  settled version is changed too, as a run that merged late events into older days does, so
  nothing is cached.

BENCH_SCALE=small (default) runs in minutes on a busy machine; BENCH_SCALE=full is the issue's
scale (10M events, 100 members x 20 models, catch-up of 1M). Each size can be overridden:
BENCH_MEMBERS, BENCH_MODELS, BENCH_BIG_EVENTS, BENCH_CATCHUP_EVENTS, BENCH_TAB_REQUESTS;
BENCH_VIEWS=0 measures the rollup only (on an existing database: events are generated once).
"""

# ruff: noqa: I001 - setup_db must come first: it configures Django.
import http.client
import json
import os
import statistics
import time
import uuid
from datetime import timedelta

from setup_db import MODELS, bench_org, loadavg, require_postgresql

from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.utils import timezone

from accounts.models import User
from usage.models import UsageEvent
from usage.rollup import settled_version_key, rollup_until_caught_up, rollup_version_key

SCALES = {
    "small": {"members": 10, "models": 10, "big": 300_000, "catch_up": 100_000, "requests": 20},
    "full": {
        "members": 100,
        "models": 20,
        "big": 10_000_000,
        "catch_up": 1_000_000,
        "requests": 40,
    },
}
SCALE = os.environ.get("BENCH_SCALE", "small")
PRESET = SCALES[SCALE]
MEMBERS = int(os.environ.get("BENCH_MEMBERS", PRESET["members"]))
MODEL_COUNT = int(os.environ.get("BENCH_MODELS", PRESET["models"]))
BIG = int(os.environ.get("BENCH_BIG_EVENTS", PRESET["big"]))
CATCH_UP = int(os.environ.get("BENCH_CATCHUP_EVENTS", PRESET["catch_up"]))
REQUESTS = int(os.environ.get("BENCH_TAB_REQUESTS", PRESET["requests"]))
SMALL = 10_000
DAYS = 90
CHUNK = 1_000_000
PORT = int(os.environ.get("BENCH_TAB_PORT", "8098"))

INSERT = """
INSERT INTO usage_usageevent (organization_id, occurred_at, received_at, request_id, user_id,
    user_email, model, provider, feature, project, input_tokens, output_tokens,
    cache_read_tokens, cache_write_tokens, cost_microdollars, cost_from_catalog, latency_ms,
    status, error_code)
SELECT %(org)s,
       %(start)s::timestamptz + ((g - 1)::float8 / %(total)s) * %(span)s::interval,
       now(), %(prefix)s || g,
       (%(users)s::bigint[])[1 + (g %% %(pairs)s) %% %(members)s],
       '', (%(models)s::text[])[1 + (g %% %(pairs)s) / %(members)s],
       (%(providers)s::text[])[1 + (g %% %(pairs)s) / %(members)s],
       '', '', 500 + (g * 13) %% 6000, 50 + (g * 17) %% 1500, (g * 19) %% 2000, 0,
       200 + (g * 23) %% 30000, true, 150 + (g * 31) %% 12000,
       CASE WHEN g %% 47 = 0 THEN 'error' ELSE 'success' END, ''
FROM generate_series(%(first)s::bigint, %(last)s::bigint) AS g
"""
# The de-duplication keys the API would have stored for the same events (worst case: every
# event came in through the API), so the key table grows with the events as in production.
INSERT_KEYS = """
INSERT INTO usage_ingestedrequest (organization_id, occurred_on, request_id)
SELECT %(org)s,
       ((%(start)s::timestamptz + ((g - 1)::float8 / %(total)s) * %(span)s::interval)
        AT TIME ZONE 'UTC')::date,
       %(prefix)s || g
FROM generate_series(%(first)s::bigint, %(last)s::bigint) AS g
"""


def generate(
    org_id: int, users: list[int], total: int, start, span: timedelta, prefix: str
) -> None:
    models = MODELS[:MODEL_COUNT]
    with connection.cursor() as cursor:
        for first in range(1, total + 1, CHUNK):
            last = min(first + CHUNK - 1, total)
            params = {
                "org": org_id,
                "start": start,
                "total": total,
                "span": span,
                "prefix": prefix,
                "users": users,
                "members": len(users),
                "pairs": len(users) * len(models),
                "models": [m for _, m in models],
                "providers": [p for p, _ in models],
                "first": first,
                "last": last,
            }
            cursor.execute(INSERT, params)
            cursor.execute(INSERT_KEYS, params)
            if total >= CHUNK:
                print(f"  generated {last:,}/{total:,}", flush=True)


def timed_rollup(label: str, result: dict) -> None:
    load = loadavg()
    began = time.perf_counter()
    reports = rollup_until_caught_up()
    seconds = time.perf_counter() - began
    result[label] = {
        "seconds": round(seconds, 3),
        "events": sum(r.events for r in reports),
        "chunks": sum(r.chunks for r in reports),
        "loadavg": load,
    }
    print(label, json.dumps(result[label]), flush=True)


ROLLUP_TABLES = (
    "usage_orgdailyrollup",
    "usage_modeldailyrollup",
    "usage_memberdailyrollup",
    "usage_dailyrollup",
    "usage_modelweeklylatency",
)


def vacuum_rollups() -> None:
    """What autovacuum does in production before the pages are timed, then ANALYZE.

    The benchmark's PostgreSQL may run with autovacuum off (this machine's does): then the
    rollups' upserts leave every page without its visibility-map bit, each index-only scan of
    the covering indexes reads the heap row by row (9,000 heap fetches for the members of one
    model over 90 days: 13 ms instead of 3.5 ms) and the pages would be timed on a table no
    production database keeps.
    """
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM (ANALYZE) {', '.join(ROLLUP_TABLES)}")
        cursor.execute("ANALYZE")


def ensure_events(slug: str, total: int) -> tuple:
    org, users, _ = bench_org(slug, MEMBERS)
    have = UsageEvent.objects.filter(organization_id=org.pk).count()
    if have < total:  # only what is missing, spread over the same 90 days
        end = timezone.now() - timedelta(minutes=1)
        print(f"{slug}: generating {total - have:,} events ({have:,} there)", flush=True)
        span = timedelta(days=DAYS)
        generate(org.pk, users, total - have, end - span, span, f"{slug}-{have}-")
    return org, User.objects.get(pk=users[0]), users


def session_cookie(user: User) -> str:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}"


def views(member_public_id: str, model: str) -> dict[str, str]:
    return {
        "default": "",
        "90d": "?range=90d",
        "model": f"?range=90d&model={model}",
        "member": f"?range=90d&member={member_public_id}",
        "member_model": f"?range=90d&member={member_public_id}&model={model}",
    }


def time_views(orgs: dict, bump: tuple = ()) -> dict:
    """Interleaved: for each round, each view, big then small, one request each. Before each
    request the organization's tokens named in `bump` (key functions) are changed."""
    connections = {
        name: http.client.HTTPConnection("127.0.0.1", PORT, timeout=120) for name in orgs
    }
    samples: dict[tuple[str, str], list[float]] = {}
    load_before = loadavg()
    for round_number in range(REQUESTS + 3):
        for name, org in orgs.items():
            for view, query in org["views"].items():
                for key in bump:
                    cache.set(key(org["pk"]), uuid.uuid4().hex, timeout=None)
                began = time.perf_counter()
                connections[name].request(
                    "GET", f"/orgs/{org['slug']}/usage/{query}", headers={"Cookie": org["cookie"]}
                )
                response = connections[name].getresponse()
                response.read()
                elapsed = (time.perf_counter() - began) * 1000
                if response.status != 200:
                    raise SystemExit(f"{name} {view}: HTTP {response.status}")
                if round_number >= 3:  # three warm-up rounds
                    samples.setdefault((view, name), []).append(elapsed)
    for connection_ in connections.values():
        connection_.close()  # keep-alive connections would hold gunicorn's workers on shutdown
    result = {"loadavg_before": load_before, "loadavg_after": loadavg()}
    for (view, name), values in sorted(samples.items()):
        values.sort()
        result.setdefault(view, {})[name] = {
            "p50_ms": round(statistics.median(values), 1),
            "p95_ms": round(values[max(0, int(len(values) * 0.95) - 1)], 1),
        }
    for by_org in result.values():
        if isinstance(by_org, dict) and "big" in by_org:
            by_org["ratio_p95"] = round(by_org["big"]["p95_ms"] / by_org["small"]["p95_ms"], 2)
    return result


def main() -> dict:
    require_postgresql()
    from bench_ingest import start_gunicorn, stop_gunicorn

    result: dict = {"scale": SCALE, "members": MEMBERS, "models": MODEL_COUNT}
    big, big_owner, users = ensure_events("big", BIG)
    small, small_owner, _ = ensure_events("small", SMALL)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE usage_usageevent")
    timed_rollup("first_rollup", result)
    result["big_events"] = UsageEvent.objects.filter(organization_id=big.pk).count()
    result["small_events"] = UsageEvent.objects.filter(organization_id=small.pk).count()

    end = timezone.now() - timedelta(minutes=1)
    one_event = []
    for n in range(5):
        generate(
            big.pk, users, 1, end - timedelta(minutes=n), timedelta(0), f"one{time.time_ns()}-"
        )
        timed_rollup("one_event", result)
        one_event.append(result.pop("one_event"))
    result["one_new_event"] = {
        "seconds": [r["seconds"] for r in one_event],
        "loadavg": one_event[-1]["loadavg"],
    }
    # 100 late events, spread over 80 different days (one every 0.8 day, 80 days back to 1).
    generate(
        big.pk, users, 100, end - timedelta(days=80), timedelta(days=79), f"late{time.time_ns()}-"
    )
    timed_rollup("late_100_events_over_80_days", result)
    if CATCH_UP:
        generate(
            big.pk,
            users,
            CATCH_UP,
            end - timedelta(days=7),
            timedelta(days=7),
            f"new{time.time_ns()}-",
        )
        timed_rollup(f"catch_up_{CATCH_UP}_events_last_7_days", result)

    if os.environ.get("BENCH_VIEWS", "1") == "0":  # rollup figures only
        print(json.dumps(result, indent=2))
        return result
    vacuum_rollups()
    from organizations.models import Membership

    model = MODELS[0][1]
    orgs = {}
    for name, org, owner in (("big", big, big_owner), ("small", small, small_owner)):
        member = Membership.objects.filter(organization=org).exclude(user=owner).first()
        orgs[name] = {
            "pk": org.pk,
            "slug": org.slug,
            "cookie": session_cookie(owner),
            "views": views(str(member.public_id), model),
        }
    server = start_gunicorn(PORT)
    try:
        # warm: the page was built before; cold: a rollup run of live events (today, yesterday)
        # made it stale; after_late: a run that merged late events into settled days did.
        for label, bump in (
            ("views_warm", ()),
            ("views_cold", (rollup_version_key,)),
            ("views_after_late", (rollup_version_key, settled_version_key)),
        ):
            result[label] = time_views(orgs, bump)
            print(label, json.dumps(result[label]), flush=True)
    finally:
        stop_gunicorn(server)
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
