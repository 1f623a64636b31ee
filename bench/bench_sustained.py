"""Sustained ingestion with the real worker and beat: rate held, and how fresh the Usage tab is.

Into the benchmark's "big" organization (run bench_tab.py first: 10M events), C client processes
post batches of 1,000 events over HTTP to gunicorn at a paced total rate (BENCH_RATE events/s,
default 20,000) for BENCH_SECONDS (default 600), while a Celery worker with beat (Redis broker,
the production schedule: a rollup every 30 s) rolls them up. Every 5 s a probe notes the newest
stored event id and the time, then watches the rollup cursor: the event is on the Usage tab once
the cursor has passed it (the rollup commits, then changes the organization's page-cache version,
so the next page view reads it). Freshness = the time from the probe to the cursor passing it.

Prints JSON: events accepted, the achieved rate per 30 s window, freshness (p50, p95, worst), the
load average every 30 s, and the requests in the organization's rollups against its events.
"""

# ruff: noqa: I001 - setup_db must come first: it configures Django.
import http.client
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime

from setup_db import MODELS, ROOT, bench_org, loadavg, require_postgresql

from django.db import connection

from audit.services import Actor
from bench_ingest import PORT, start_gunicorn, stop_gunicorn
from bench_tab import MEMBERS
from usage.models import RollupState
from usage.services import ingest_key_create

RATE = int(os.environ.get("BENCH_RATE", "20000"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "600"))
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "4"))
BATCH = 1000
PROBE_EVERY = 5.0


def _batch(emails: list[str], run: str, start: int) -> bytes:
    now = datetime.now(UTC).isoformat()
    events = []
    for n in range(start, start + BATCH):
        provider, model = MODELS[n % 20]
        events.append(
            {
                "request_id": f"{run}-{n}",
                "occurred_at": now,
                "user_email": emails[n % len(emails)],
                "model": model,
                "provider": provider,
                "input_tokens": 1000 + n % 4000,
                "output_tokens": 100 + n % 900,
                "latency_ms": 200 + (n * 37) % 9000,
                "status": "error" if n % 50 == 0 else "success",
            }
        )
    return json.dumps(events).encode()


def _client(args: tuple) -> list[tuple[float, int]]:
    """Post batch k at start + k * interval (sooner never, later if behind): an open schedule."""
    index, key, emails, run, began = args
    interval = CLIENTS * BATCH / RATE
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=120)
    done: list[tuple[float, int]] = []
    k = 0
    while True:
        due = began + index * interval / CLIENTS + k * interval
        if due - began >= SECONDS:
            return done
        wait = due - time.time()
        if wait > 0:
            time.sleep(wait)
        body = _batch(emails, run, (k * CLIENTS + index) * BATCH)
        conn.request(
            "POST",
            "/api/v1/usage/events",
            body=body,
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        )
        response = conn.getresponse()
        payload = json.loads(response.read())
        if response.status != 200 or payload["rejected"]:
            raise SystemExit(f"HTTP {response.status}: {str(payload)[:500]}")
        done.append((time.time(), payload["accepted"]))
        k += 1


def _newest_event_id() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(max(id), 0) FROM usage_usageevent")
        return cursor.fetchone()[0]


def _probe(stop: threading.Event, freshness: list[float], loads: list[tuple]) -> None:
    pending: list[tuple[float, int]] = []
    next_probe = time.time()
    next_load = time.time()
    while not stop.is_set() or pending:
        now = time.time()
        if now >= next_probe and not stop.is_set():
            pending.append((now, _newest_event_id()))
            next_probe += PROBE_EVERY
        if now >= next_load:
            loads.append((round(now), loadavg()))
            next_load += 30
        cursor_at = RollupState.objects.values_list("last_event_id", flat=True).first() or 0
        seen = time.time()
        for probe in [p for p in pending if p[1] <= cursor_at]:
            freshness.append(seen - probe[0])
            pending.remove(probe)
        if stop.is_set() and pending and seen - pending[0][0] > 300:
            freshness.extend(seen - p[0] for p in pending)  # never caught up: report the wait
            return
        time.sleep(0.5)
    connection.close()


def _start_worker() -> subprocess.Popen:
    return subprocess.Popen(  # noqa: S603 - fixed arguments
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "kilo_dashboard",
            "worker",
            "--beat",
            "--schedule",
            "/tmp/kilo-bench-beat-schedule",  # noqa: S108 - a benchmark's scratch file
            "--concurrency",
            "2",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
            "--loglevel",
            "WARNING",
        ],
        cwd=ROOT,
        env={**os.environ, "DEBUG": "false"},
    )


def _rolled_up_vs_stored(org_id: int) -> dict:
    """Once the cursor has passed every event: requests in the organization's rollups against
    the events stored (equal when every event made it onto the tab)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT coalesce(sum(requests), 0) FROM usage_orgdailyrollup "
            "WHERE organization_id = %s), (SELECT count(*) FROM usage_usageevent "
            "WHERE organization_id = %s)",
            [org_id, org_id],
        )
        rolled_up, stored = (int(n) for n in cursor.fetchone())
    return {"requests_in_rollups": rolled_up, "events_stored": stored}


def main() -> dict:
    require_postgresql()
    org, users, emails = bench_org("big", MEMBERS)
    _, key = ingest_key_create(
        actor=Actor.system(), organization=org, name=f"sustained {time.time()}"
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM usage_usageevent WHERE organization_id = %s", [org.pk])
        events_before = cursor.fetchone()[0]
    result: dict = {"rate_asked": RATE, "seconds": SECONDS, "clients": CLIENTS}
    result["organization_events_before"] = events_before
    result["loadavg_before"] = loadavg()
    server = start_gunicorn()
    worker = _start_worker()
    stop = threading.Event()
    freshness: list[float] = []
    loads: list[tuple] = []
    probe = threading.Thread(target=_probe, args=(stop, freshness, loads))
    try:
        time.sleep(5)  # the worker connects to the broker; beat sends its first rollup
        began = time.time() + 1
        probe.start()
        run = f"s{int(began)}"
        with multiprocessing.Pool(CLIENTS) as pool:
            per_client = pool.map(_client, [(i, key, emails, run, began) for i in range(CLIENTS)])
        ended = time.time()
        stop.set()
        probe.join()
    finally:
        stop.set()
        worker.terminate()
        worker.wait(60)
        stop_gunicorn(server)
    done = sorted(item for client in per_client for item in client)
    accepted = sum(n for _, n in done)
    windows: dict[int, int] = {}
    for at, n in done:
        windows[int((at - began) // 30)] = windows.get(int((at - began) // 30), 0) + n
    result.update(
        events_accepted=accepted,
        achieved_events_per_s=round(accepted / (ended - began)),
        events_per_s_by_30s_window=[round(n / 30) for _, n in sorted(windows.items())],
        freshness_s={
            "probes": len(freshness),
            "p50": round(statistics.median(freshness), 1),
            "p95": round(sorted(freshness)[int(0.95 * (len(freshness) - 1))], 1),
            "worst": round(max(freshness), 1),
        },
        loadavg_every_30s=[load for _, load in loads],
        loadavg_after=loadavg(),
        **_rolled_up_vs_stored(org.pk),
    )
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
