"""Run by test_rollup_sqlite.py in its own process on a fresh SQLite file (the demo's database):
migrates, ingests three events, rolls them up, then retries and prunes de-duplication keys, and
prints what it found as one JSON line."""

import json
from datetime import date

import django


def main() -> None:
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from organizations.models import Membership
    from tests.conftest import make_org, make_user
    from usage.ingest import ingest_events
    from usage.models import DailyRollup, IngestedRequest, OrgDailyRollup
    from usage.partitions import prune_ingested_requests
    from usage.rollup import rollup_until_caught_up

    org = make_org("acme", "Acme")
    org.time_zone = "Asia/Kolkata"  # UTC+5:30, no daylight saving
    org.save()
    Membership.objects.create(organization=org, user=make_user("m@acme.test"), role="member")

    def event(n: int, at: str, latency: int) -> dict:
        return {
            "request_id": f"r{n}",
            "occurred_at": at,
            "user_email": "m@acme.test",
            "model": "gpt-5",
            "provider": "openai",
            "input_tokens": 1,
            "output_tokens": 1,
            "latency_ms": latency,
            "status": "success",
            "cost_microdollars": 10,
        }

    result = ingest_events(
        organization_id=org.pk,
        events=[
            event(1, "2026-11-02T19:10:00Z", 100),
            event(2, "2026-11-02T20:10:00Z", 300),
            event(3, "2026-11-05T10:00:00Z", 50),
        ],
    )
    assert result.accepted == 3, result.errors
    reports = rollup_until_caught_up()
    hours = [f"requests_h{hour:02d}" for hour in range(24)]
    rows = {
        table.__name__: [
            {
                "day": str(row.day),
                "requests": row.requests,
                "cost": row.cost_microdollars,
                "hours": {h: getattr(row, h) for h in hours if getattr(row, h)},
                "histogram": getattr(row, "latency_histogram", None),
            }
            for row in table.objects.order_by("day")
        ]
        for table in (DailyRollup, OrgDailyRollup)
    }
    # De-duplication keys (organization, day, request id): a retry of r1 is refused, r1 on
    # another day is another event; pruning deletes the keys of days before the cutoff.
    again = ingest_events(
        organization_id=org.pk,
        events=[event(1, "2026-11-02T19:10:00Z", 100), event(1, "2026-11-06T08:00:00Z", 80)],
    )

    def keys() -> list[str]:
        stored = IngestedRequest.objects.values_list("occurred_on", "request_id")
        return sorted(f"{day}/{request_id}" for day, request_id in stored)

    keys_before = keys()
    pruned = prune_ingested_requests(date(2026, 11, 3), batch=1)
    keys_after = keys()
    print(
        json.dumps(
            {
                "events": sum(r.events for r in reports),
                "rows": rows,
                "again": [again.accepted, again.duplicate],
                "keys": [keys_before, pruned, keys_after],
            }
        )
    )


if __name__ == "__main__":
    main()
