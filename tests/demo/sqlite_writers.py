"""Run by test_sqlite_concurrency.py in its own process: many threads write one SQLite file.

Each thread runs transactions that read, then write (the shape of every service: look up, then
save), which is exactly what fails with "database is locked" on SQLite's defaults. Prints one
JSON line: {"rows": n, "errors": [...], "journal_mode": "...", "transaction_mode": "..."}.
"""

import json
import os
import sys
import threading
from datetime import timedelta

THREADS = int(sys.argv[1])
WRITES = int(sys.argv[2])


def main() -> None:
    import django

    django.setup()
    from django.contrib.sessions.models import Session
    from django.db import connection, connections, transaction
    from django.utils import timezone

    with connection.schema_editor() as editor:
        editor.create_model(Session)
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        journal_mode = cursor.fetchone()[0]
    errors: list[str] = []
    start = threading.Barrier(THREADS)

    def writer(n: int) -> None:
        start.wait()
        try:
            for i in range(WRITES):
                try:
                    with transaction.atomic():
                        seen = Session.objects.count()  # read first: takes a shared lock
                        Session.objects.create(
                            session_key=f"t{n}-{i}",
                            session_data=str(seen),
                            expire_date=timezone.now() + timedelta(days=1),
                        )
                except Exception as error:  # noqa: BLE001 - report every failure
                    errors.append(f"{type(error).__name__}: {error}")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(
        json.dumps(
            {
                "rows": Session.objects.count(),
                "errors": errors,
                "journal_mode": journal_mode,
                "transaction_mode": connection.transaction_mode,
                "database": os.environ["DATABASE_URL"],
            }
        )
    )


if __name__ == "__main__":
    main()
