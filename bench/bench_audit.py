"""Audit logs tab server time at millions of events, and a streamed export's memory.

Run with `make bench-audit` (a separate database, BENCH_AUDIT_DATABASE_URL). Method:
- One Enterprise organization ("audit-big", 100 members) with BENCH_AUDIT_EVENTS (default
  5,000,000) events spread evenly over the last 365 days, generated inside PostgreSQL with
  generate_series (500k per statement): actor and action drawn independently, both skewed (see
  INSERT), among 100 members and 40 catalogue actions, each event with a before/after, IP and
  user agent. The day counts (overall and per member) are filled from the events with one
  INSERT ... SELECT each, as audit_record would have. (The synthetic events carry placeholder
  hashes: the chain is benchmarked by tests, not here.)
- The tab is timed in-process through Django's test client (server time: routing, access gate,
  selectors, plotly figure, template): the default view (last 30 days, first page), the
  filtered view (the busiest member's busiest action, 90 days), that member alone (90 days), a
  free-text search (30 days) and the next page, 5 warm-ups then BENCH_AUDIT_REQUESTS
  measured requests each; p50/p95 and the query count are reported.
- Export: the CSV of a view holding BENCH_AUDIT_EXPORT events (default 1,000,000) is streamed
  through the test client; the process's resident memory is sampled every 100,000 rows.
- Load: /proc/loadavg before and after, since the machine is shared.
"""

# ruff: noqa: I001 - setup_db must come first: it configures Django.
import json
import re
import os
import statistics
import time
from contextlib import contextmanager
from datetime import timedelta
from html import unescape as html_unescape
from urllib.parse import urlencode

from setup_db import bench_org, require_postgresql

from django.db import connection
from django.db.models import Sum
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import User
from audit.actions import CATALOGUE
from audit.filters import local_today
from audit.models import AuditEvent, AuditMemberCount, AuditTrail
from organizations.models import Membership, Plan

EVENTS = int(os.environ.get("BENCH_AUDIT_EVENTS", "5000000"))
EXPORT = int(os.environ.get("BENCH_AUDIT_EXPORT", "1000000"))
REQUESTS = int(os.environ.get("BENCH_AUDIT_REQUESTS", "40"))
CHUNK = 500_000
SLUG = "audit-big"
ACTIONS = sorted(a for a in CATALOGUE if not a.startswith("audit."))[:40]

# Actor and action are drawn independently (two slices of md5(g)), each skewed like real logs:
# index = floor(n * u^2) for u uniform in [0, 1), so the first member acts in 10% of the events
# and the first action is 16% of them, and the busiest member's busiest action is about 1.6% of
# all events (some 20,000 in 90 days): the worst case for the filtered view, not a friendly one.
INSERT = """
INSERT INTO audit_auditevent (public_id, organization_id, actor_type, actor_id, actor_email,
    actor_label, ip_address, user_agent, action, target_type, target_id, target_label, before,
    after, created_at, sequence, prev_hash, hash)
SELECT md5(%(org)s || '-' || g)::uuid, %(org)s, 'user',
       (%(users)s::bigint[])[1 + a], 'user' || a || '@audit-big.bench', '',
       ('10.' || (g %% 200) || '.' || (g %% 250) || '.' || (1 + g %% 250))::inet,
       'Mozilla/5.0 (X11; Linux x86_64) Firefox/' || (100 + g %% 30),
       (%(actions)s::text[])[1 + b], 'membership', g::text,
       'Target ' || (g %% 5000),
       jsonb_build_object('role', 'member', 'seats', g %% 40),
       jsonb_build_object('role', 'admin', 'seats', 1 + g %% 40),
       %(start)s::timestamptz + ((g - 1)::float8 / %(total)s) * %(span)s::interval,
       g, repeat('0', 64), md5(g::text) || md5(g::text)
FROM (
    SELECT g,
           floor(%(members)s * power(('x' || substr(h, 1, 8))::bit(32)::bigint / 4294967296.0, 2))::int AS a,
           floor(%(n_actions)s * power(('x' || substr(h, 9, 8))::bit(32)::bigint / 4294967296.0, 2))::int AS b
    FROM (SELECT g, md5(g::text) AS h
          FROM generate_series(%(first)s::bigint, %(last)s::bigint) AS g) AS numbered
) AS drawn
"""

COUNTS = """
INSERT INTO audit_auditcount (organization_id, day, action, count)
SELECT organization_id, (created_at AT TIME ZONE %(tz)s)::date, action, count(*)
FROM audit_auditevent WHERE organization_id = %(org)s GROUP BY 1, 2, 3
"""

MEMBER_COUNTS = """
INSERT INTO audit_auditmembercount (organization_id, actor_id, day, action, count)
SELECT organization_id, actor_id, (created_at AT TIME ZONE %(tz)s)::date, action, count(*)
FROM audit_auditevent WHERE organization_id = %(org)s AND actor_id IS NOT NULL
GROUP BY 1, 2, 3, 4
"""


def loadavg() -> str:
    with open("/proc/loadavg") as f:
        return f.read().strip()


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


@contextmanager
def secondary_indexes_dropped(cursor):  # noqa: ANN001, ANN201
    """Bulk loading is several times faster without the indexes; they are rebuilt after."""
    cursor.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = 'audit_auditevent'::regclass AND contype = 'u'"
    )
    constraints = cursor.fetchall()
    cursor.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'audit_auditevent' "
        "AND indexname NOT IN (SELECT conname FROM pg_constraint "
        "WHERE conrelid = 'audit_auditevent'::regclass)"
    )
    indexes = cursor.fetchall()
    for name, _ in constraints:
        cursor.execute(f'ALTER TABLE audit_auditevent DROP CONSTRAINT "{name}"')
    for name, _ in indexes:
        cursor.execute(f'DROP INDEX "{name}"')
    yield
    print("  rebuilding indexes", flush=True)
    for name, definition in constraints:
        cursor.execute(f'ALTER TABLE audit_auditevent ADD CONSTRAINT "{name}" {definition}')
    for _, definition in indexes:
        cursor.execute(definition)


def ensure_events() -> tuple:
    org, users, _ = bench_org(SLUG)
    org.plan = Plan.ENTERPRISE
    org.save(update_fields=["plan"])
    have = AuditEvent.objects.filter(organization=org).count()
    seconds = 0.0
    if have < EVENTS:
        if have:
            raise SystemExit(f"{SLUG} has {have:,} events, fewer than asked: drop the database.")
        began = time.perf_counter()
        start = timezone.now() - timedelta(days=365)
        with connection.cursor() as cursor, secondary_indexes_dropped(cursor):
            for first in range(1, EVENTS + 1, CHUNK):
                last = min(first + CHUNK - 1, EVENTS)
                cursor.execute(
                    INSERT,
                    {
                        "org": org.pk,
                        "users": users,
                        "members": len(users),
                        "actions": ACTIONS,
                        "n_actions": len(ACTIONS),
                        "start": start,
                        "total": EVENTS,
                        "span": timedelta(days=365),
                        "first": first,
                        "last": last,
                    },
                )
                print(f"  generated {last:,}/{EVENTS:,}", flush=True)
        with connection.cursor() as cursor:
            cursor.execute(COUNTS, {"org": org.pk, "tz": org.time_zone})
            cursor.execute(MEMBER_COUNTS, {"org": org.pk, "tz": org.time_zone})
            cursor.execute("ANALYZE audit_auditevent")
            cursor.execute("ANALYZE audit_auditcount")
            cursor.execute("ANALYZE audit_auditmembercount")
        AuditTrail.objects.update_or_create(
            organization=org,
            defaults={
                "last_sequence": EVENTS,
                "last_hash": "0" * 64,
                "count_time_zone": org.time_zone,
            },
        )
        seconds = time.perf_counter() - began
    return org, User.objects.get(pk=users[0]), users, seconds


def time_view(client: Client, url: str) -> dict:
    for _ in range(5):
        if client.get(url).status_code != 200:
            raise SystemExit(f"{url} did not answer 200")
    samples = []
    for _ in range(REQUESTS):
        began = time.perf_counter()
        client.get(url)
        samples.append((time.perf_counter() - began) * 1000)
    with CaptureQueriesContext(connection) as queries:
        html = client.get(url).content.decode()
    rows = html.count("<time datetime=")
    samples.sort()
    return {
        "p50_ms": round(statistics.median(samples), 1),
        "p95_ms": round(samples[max(0, int(len(samples) * 0.95) - 1)], 1),
        "queries": len(queries.captured_queries),
        "rows_on_page": rows,
    }


def export_range(org, today) -> tuple[str, str]:
    """The most recent whole days holding about EXPORT events."""
    days = max(1, round(365 * EXPORT / EVENTS))
    return (today - timedelta(days=days - 1)).isoformat(), today.isoformat()


def time_export(client: Client, org, today) -> dict:
    start, end = export_range(org, today)
    url = f"/orgs/{org.slug}/audit/export.csv?{urlencode({'start': start, 'end': end})}"
    response = client.get(url)
    rss_before = rss_mb()
    began = time.perf_counter()
    lines, size, samples = 0, 0, []
    for chunk in response.streaming_content:
        size += len(chunk)
        lines += chunk.count(b"\n")
        if lines and lines % 100_000 == 0:
            samples.append(round(rss_mb(), 1))
    seconds = time.perf_counter() - began
    return {
        "range": f"{start}..{end}",
        "rows": lines - 1,
        "megabytes": round(size / 1e6, 1),
        "seconds": round(seconds, 1),
        "rows_per_second": round((lines - 1) / seconds),
        "rss_mb_before": round(rss_before, 1),
        "rss_mb_samples_every_100k_rows": samples,
        "rss_mb_after": round(rss_mb(), 1),
    }


def main() -> dict:
    require_postgresql()
    result = {"loadavg_before": loadavg(), "events": EVENTS}
    org, owner, users, generated = ensure_events()
    result["generate_seconds"] = round(generated, 1)
    client = Client()
    client.force_login(owner)
    today = local_today(org.time_zone)
    since = today - timedelta(days=89)
    # The worst filtered view: the busiest member's busiest action over the 90 days.
    busiest = (
        AuditMemberCount.objects.filter(organization=org, day__gte=since)
        .values("actor_id", "action")
        .annotate(n=Sum("count"))
        .order_by("-n")
        .first()
    )
    member = Membership.objects.get(organization=org, user_id=busiest["actor_id"])
    window = {"start": since.isoformat(), "end": today.isoformat()}
    filtered = {"member": str(member.public_id), "action": busiest["action"], **window}
    result["filtered_events_in_view"] = busiest["n"]
    result["tab_default"] = time_view(client, f"/orgs/{org.slug}/audit/")
    result["tab_filtered"] = time_view(client, f"/orgs/{org.slug}/audit/?{urlencode(filtered)}")
    member_only = {"member": str(member.public_id), **window}
    result["tab_one_member_90_days"] = time_view(
        client, f"/orgs/{org.slug}/audit/?{urlencode(member_only)}"
    )
    # Free text, which no count carries: its totals count the newest SCAN_LIMIT events only.
    result["tab_text_search_30_days"] = time_view(
        client, f"/orgs/{org.slug}/audit/?{urlencode({'q': 'Target 4242'})}"
    )
    first_page = client.get(f"/orgs/{org.slug}/audit/").content.decode()
    next_url = html_unescape(re.search(r'href="([^"]*cursor=[^"]*)"', first_page).group(1))
    result["tab_next_page"] = time_view(client, next_url)
    if EXPORT:
        result["export_csv"] = time_export(client, org, today)
    result["loadavg_after"] = loadavg()
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
