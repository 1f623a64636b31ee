"""Ingestion through the HTTP API (gunicorn, batches of 1,000) vs a raw COPY of the same rows.

Method: N pre-serialized batches of 1,000 valid events (unique request ids, 100 members, 20
models, no cost sent so the catalog price is computed) are posted by C client processes over
keep-alive connections to gunicorn on 127.0.0.1. Then the same number of rows (the rows the API
stored, re-keyed) are written with one psycopg COPY. Both rates are events per second of wall time.
A round of a few seconds varies by several per cent from one to the next on a shared 2-core
machine, so R rounds (BENCH_INGEST_ROUNDS, default 5) are run after a CHECKPOINT (the previous
step's dirty pages are not this one's cost) and the median is the figure.
"""

import http.client
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

from setup_db import MODELS, ROOT, bench_org, loadavg, require_postgresql

from audit.services import Actor
from usage.ingest import COLUMNS
from usage.services import ingest_key_create

PORT = int(os.environ.get("BENCH_PORT", "8097"))
BATCHES = int(os.environ.get("BENCH_INGEST_BATCHES", "120"))
ROUNDS = int(os.environ.get("BENCH_INGEST_ROUNDS", "5"))
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "4"))
WORKERS = int(os.environ.get("BENCH_GUNICORN_WORKERS", "4"))


def make_batches(emails: list[str], run: str) -> list[bytes]:
    base = datetime.now(UTC) - timedelta(hours=2)
    batches = []
    for b in range(BATCHES):
        events = []
        for i in range(1000):
            n = b * 1000 + i
            provider, model = MODELS[n % len(MODELS)]
            events.append(
                {
                    "request_id": f"{run}-{n}",
                    "occurred_at": (base + timedelta(milliseconds=n)).isoformat(),
                    "user_email": emails[n % len(emails)],
                    "model": model,
                    "provider": provider,
                    "input_tokens": 1000 + n % 4000,
                    "output_tokens": 100 + n % 900,
                    "cache_read_tokens": n % 500,
                    "latency_ms": 200 + n % 9000,
                    "status": "error" if n % 50 == 0 else "success",
                }
            )
        batches.append(json.dumps(events).encode())
    return batches


def _client(args: tuple) -> int:
    key, bodies = args
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=60)
    accepted = 0
    for body in bodies:
        conn.request(
            "POST",
            "/api/v1/usage/events",
            body=body,
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        )
        response = conn.getresponse()
        payload = json.loads(response.read())
        if response.status != 200:
            raise SystemExit(f"HTTP {response.status}: {payload}")
        accepted += payload["accepted"]
    return accepted


def start_gunicorn(port: int = PORT) -> subprocess.Popen:
    env = {
        **os.environ,
        "DEBUG": "false",
        "USAGE_INGEST_RATE_LIMIT_PER_MINUTE": "1000000",
        "LOG_LEVEL": "WARNING",
    }
    process = subprocess.Popen(  # noqa: S603 - fixed arguments
        [
            sys.executable,
            "-m",
            "gunicorn",
            "kilo_dashboard.wsgi",
            "-b",
            f"127.0.0.1:{port}",
            "-w",
            str(WORKERS),
            "--keep-alive",
            "30",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    for _ in range(100):
        try:
            http.client.HTTPConnection("127.0.0.1", port, timeout=1).request("GET", "/healthz")
            return process
        except OSError:
            time.sleep(0.1)
    raise SystemExit("gunicorn did not start")


def stop_gunicorn(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(60)  # a loaded machine can take a while to drain the workers
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(10)


def raw_copy(org_id: int, rows: int) -> float:
    """COPY `rows` rows, read back from what the API stored, under fresh request ids."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {', '.join(COLUMNS)} FROM usage_usageevent WHERE organization_id = %s LIMIT %s",  # noqa: S608
            [org_id, rows],
        )
        data = [list(r) for r in cursor.fetchall()]
        for n, row in enumerate(data):
            row[3] = f"copy-{time.time_ns()}-{n}"
        start = time.perf_counter()
        with cursor.copy(f"COPY usage_usageevent ({', '.join(COLUMNS)}) FROM STDIN") as copy:  # noqa: S608
            for row in data:
                copy.write_row(row)
        connection.commit() if not connection.get_autocommit() else None
        return time.perf_counter() - start


def database_events() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM usage_usageevent")
        return cursor.fetchone()[0]


def main() -> dict:
    require_postgresql()
    from django.db import connection

    events_before = database_events()
    org, _, emails = bench_org("ingest")
    _, key = ingest_key_create(actor=Actor.system(), organization=org, name=f"bench {time.time()}")
    run = f"r{int(time.time())}"
    with connection.cursor() as cursor:
        cursor.execute("CHECKPOINT")
    load = loadavg()
    api_rates, copy_rates = [], []
    server = start_gunicorn()
    try:
        # Warm-up: one batch per worker, not counted.
        _client((key, make_batches(emails, run + "w")[:WORKERS]))
        for round_number in range(ROUNDS):
            batches = make_batches(emails, f"{run}-{round_number}")
            chunks = [(key, batches[i::CLIENTS]) for i in range(CLIENTS)]
            start = time.perf_counter()
            with multiprocessing.Pool(CLIENTS) as pool:
                accepted = sum(pool.map(_client, chunks))
            api_rates.append(accepted / (time.perf_counter() - start))
            copy_rates.append(accepted / raw_copy(org.pk, accepted))
    finally:
        stop_gunicorn(server)
    api_rate, copy_rate = statistics.median(api_rates), statistics.median(copy_rates)
    result = {
        "events_in_database_before": events_before,
        "loadavg": load,
        "loadavg_after": loadavg(),
        "rounds": ROUNDS,
        "events_per_round": BATCHES * 1000,
        "api_events_per_s": round(api_rate),
        "api_events_per_s_rounds": [round(rate) for rate in api_rates],
        "copy_events_per_s": round(copy_rate),
        "copy_events_per_s_rounds": [round(rate) for rate in copy_rates],
        "api_to_copy_ratio": round(api_rate / copy_rate, 3),
        "gunicorn_workers": WORKERS,
        "clients": CLIENTS,
        "cpus": os.cpu_count(),
    }
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
