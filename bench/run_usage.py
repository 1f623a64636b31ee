"""`make bench`: the usage benchmarks on a separate PostgreSQL database (BENCH_DATABASE_URL).

Creates the database when missing, migrates it, then runs bench_ingest.py and bench_tab.py.
Results are printed as JSON; BENCHMARKS.md records a run with its method.
"""

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

import psycopg

HERE = Path(__file__).resolve().parent
URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres:postgres@127.0.0.1:5432/kilo_bench")


def ensure_database(url: str) -> None:
    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    admin = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def main() -> None:
    ensure_database(URL)
    env = {**os.environ, "DATABASE_URL": URL, "DJANGO_ENV": "development", "DEBUG": "false"}
    env.pop("REDIS_URL", None)  # local-memory cache: the benchmark measures our code and PostgreSQL
    python = sys.executable
    subprocess.run([python, "manage.py", "migrate", "-v0"], cwd=HERE.parent, env=env, check=True)  # noqa: S603
    for script in ("bench_ingest.py", "bench_tab.py"):
        print(f"== {script}", flush=True)
        subprocess.run([python, script], cwd=HERE, env=env, check=True)  # noqa: S603


if __name__ == "__main__":
    main()
