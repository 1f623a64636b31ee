"""`make bench`: the usage benchmarks on a separate PostgreSQL database (BENCH_DATABASE_URL).

Creates the database when missing, migrates it, then runs bench_ingest.py (ingestion rate with
the database as it is), bench_tab.py (worst-case data, rollups, Usage views over HTTP) and
bench_ingest.py again (ingestion rate once the database has grown). Results are printed as
JSON; BENCHMARKS.md records a run with its method. BENCH_SCALE=small (default) or full; the
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
    for script in ("bench_ingest.py", "bench_tab.py", "bench_ingest.py"):
        print(f"== {script}", flush=True)
        subprocess.run([python, script], cwd=HERE, env=env, check=True)  # noqa: S603


if __name__ == "__main__":
    main()
