"""`make bench-audit`: the Audit logs benchmark on its own PostgreSQL database.

BENCH_AUDIT_DATABASE_URL (default kilo_audit_bench) is created when missing and migrated; then
bench_audit.py runs. Scale knobs: BENCH_AUDIT_EVENTS, BENCH_AUDIT_EXPORT, BENCH_AUDIT_REQUESTS.
"""

import os
import subprocess
import sys
from pathlib import Path

from run_usage import ensure_database

HERE = Path(__file__).resolve().parent
URL = os.environ.get(
    "BENCH_AUDIT_DATABASE_URL", "postgres://postgres:postgres@127.0.0.1:5432/kilo_audit_bench"
)


def main() -> None:
    ensure_database(URL)
    env = {**os.environ, "DATABASE_URL": URL, "DJANGO_ENV": "development", "DEBUG": "false"}
    env.pop("REDIS_URL", None)  # local-memory cache: the benchmark measures our code and PostgreSQL
    python = sys.executable
    subprocess.run([python, "manage.py", "migrate", "-v0"], cwd=HERE.parent, env=env, check=True)  # noqa: S603
    subprocess.run([python, "bench_audit.py"], cwd=HERE, env=env, check=True)  # noqa: S603


if __name__ == "__main__":
    main()
