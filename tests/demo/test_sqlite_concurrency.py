"""The demo's SQLite: concurrent writers wait for each other instead of failing.

Runs in a subprocess on a file-based SQLite database (the demo's settings), so the rest of the
suite stays on PostgreSQL. On SQLite's defaults (rollback journal, deferred transactions) two
transactions that both read and then write deadlock, and SQLite refuses one at once with
"database is locked", whatever the busy timeout.
"""

from pathlib import Path

from tests.processes import own_environment, run_script

THREADS, WRITES = 12, 15


def test_many_threads_writing_one_sqlite_file_all_succeed(tmp_path):
    env = own_environment(
        DJANGO_ENV="development", DATABASE_URL=f"sqlite:///{tmp_path / 'demo.sqlite3'}"
    )
    outcome = run_script(
        Path(__file__).with_name("sqlite_writers.py"), env, str(THREADS), str(WRITES), timeout=120
    )
    assert outcome["errors"] == []
    assert outcome["rows"] == THREADS * WRITES  # 180: every write is there
    assert outcome["journal_mode"] == "wal"
    assert outcome["transaction_mode"] == "IMMEDIATE"
