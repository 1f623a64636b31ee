"""`make bench`: the usage benchmarks on a separate PostgreSQL database (BENCH_DATABASE_URL).

Creates the database when missing, migrates it and loads the model catalog, then runs the
steps of the scale (STEPS below): ingestion through the API as the database grows, worst-case
rollups and every Usage view over HTTP, and at full scale the growth to 25M events and ten
minutes of sustained ingestion with a real worker and beat. Every step prints JSON with the load
average; BENCHMARKS.md records a run with its method. BENCH_SCALE=small (default) or full; the
default database name follows the scale (kilo_bench_scale_small / kilo_bench_scale_full).
The page cache is a Redis database (BENCH_REDIS_URL, default redis://127.0.0.1:6379/14) shared
by gunicorn's workers, as in production.
"""

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

import psycopg

HERE = Path(__file__).resolve().parent
SCALE = os.environ.get("BENCH_SCALE", "small")
URL = os.environ.get(
    "BENCH_DATABASE_URL", f"postgres://postgres:postgres@127.0.0.1:5432/kilo_bench_scale_{SCALE}"
)
REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")


# small: minutes on a busy machine. full: the scale, about half an hour on 2 cores:
# ingestion with 1M events stored; the 10M worst case (rollups, every view over HTTP);
# growth to 25M events and ingestion again; 10 minutes of sustained ingestion at 20,000/s.
STEPS = {
    "small": [("bench_ingest.py", None), ("bench_tab.py", None), ("bench_ingest.py", None)],
    "full": [
        (
            "bench_tab.py",
            {"BENCH_BIG_EVENTS": "1000000", "BENCH_VIEWS": "0", "BENCH_CATCHUP_EVENTS": "0"},
        ),
        ("bench_ingest.py", None),
        ("bench_tab.py", None),
        ("bench_grow.py", None),
        ("bench_ingest.py", None),
        ("bench_sustained.py", None),
    ],
}


def ensure_database(url: str) -> None:
    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    admin = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def main() -> None:
    ensure_database(URL)
    env = {
        **os.environ,
        "DATABASE_URL": URL,
        "DJANGO_ENV": "development",
        "DEBUG": "false",
        "REDIS_URL": REDIS,
        "BENCH_SCALE": SCALE,
    }
    python = sys.executable
    subprocess.run([python, "manage.py", "migrate", "-v0"], cwd=HERE.parent, env=env, check=True)  # noqa: S603
    # Events are sent without a cost: the API prices them from the model catalog.
    subprocess.run(  # noqa: S603
        [python, "manage.py", "sync_model_catalog", "-v0"], cwd=HERE.parent, env=env, check=True
    )
    for script, extra in STEPS[SCALE]:
        print(f"== {script} {extra or ''}", flush=True)
        step_env = {**env, **(extra or {})}
        subprocess.run([python, script], cwd=HERE, env=step_env, check=True)  # noqa: S603


if __name__ == "__main__":
    main()
