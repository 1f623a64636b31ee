"""Run by test_keys_migration.py in its own process on a fresh database (SQLite or PostgreSQL):
migrates usage to 0007, stores two de-duplication keys the old way, migrates to the end and
prints the keys the new table holds and what a retry of each then gets, as one JSON line."""

import json

import django


def main() -> None:
    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", "usage", "0007", verbosity=0)
    with connection.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO usage_ingestedrequest (organization_id, request_id, occurred_at) "
            "VALUES (%s, %s, %s)",
            [
                (7, "late-evening", "2026-11-02 23:30:00+00:00"),
                (7, "noon", "2026-11-05 12:00:00+00:00"),
            ],
        )
    call_command("migrate", verbosity=0)

    from usage.models import IngestedRequest

    keys = sorted(
        f"{org}/{day}/{request_id}"
        for org, day, request_id in IngestedRequest.objects.values_list(
            "organization_id", "occurred_on", "request_id"
        )
    )
    print(json.dumps({"keys": keys}))


if __name__ == "__main__":
    main()
