"""The demo's SQLite: concurrent writers wait for each other instead of failing.

Runs in a subprocess on a file-based SQLite database (the demo's settings), so the rest of the
suite stays on PostgreSQL. On SQLite's defaults (rollback journal, deferred transactions) two
transactions that both read and then write deadlock, and SQLite refuses one at once with
"database is locked", whatever the busy timeout.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
THREADS, WRITES = 12, 15


def test_many_threads_writing_one_sqlite_file_all_succeed(tmp_path):
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE", "REDIS"))
    }
    env.update(
        DJANGO_ENV="development",
        DJANGO_SETTINGS_MODULE="kilo_dashboard.settings",
        DATABASE_URL=f"sqlite:///{tmp_path / 'demo.sqlite3'}",
        PYTHONPATH=str(ROOT),
    )
    result = subprocess.run(  # noqa: S603 - fixed arguments
        [
            sys.executable,
            str(Path(__file__).with_name("sqlite_writers.py")),
            str(THREADS),
            str(WRITES),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome["errors"] == []
    assert outcome["rows"] == THREADS * WRITES  # 180: every write is there
    assert outcome["journal_mode"] == "wal"
    assert outcome["transaction_mode"] == "IMMEDIATE"
