"""The rollup: idempotent, incremental, late events folded in, figures equal to the raw events."""

import random
import statistics
import zoneinfo
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from organizations.models import Membership
from tests.conftest import make_org, make_user
from usage.ingest import ingest_events
from usage.models import (
    DailyRollup,
    HourlyRollup,
    MemberDailyRollup,
    ModelDailyRollup,
    OrgDailyRollup,
    OrgHourlyRollup,
    RollupState,
)
from usage.rollup import rollup_run, rollup_until_caught_up

from .conftest import make_event

pytestmark = pytest.mark.django_db

METRICS = (
    "requests",
    "errors",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cost_microdollars",
)


def nearest_rank(values: list[int], p: int) -> int:
    ordered = sorted(values)
    k = -(-len(ordered) * p // 100)  # ceil
    return ordered[k - 1]


def _ingest(org, events):
    for start in range(0, len(events), 1000):
        result = ingest_events(organization_id=org.pk, events=events[start : start + 1000])
        assert result.rejected == 0, result.errors


def _raw(events, tz_name):
    """The expected rollups, computed straight from the event dicts."""
    tz = zoneinfo.ZoneInfo(tz_name)
    hourly, daily = defaultdict(list), defaultdict(list)
    for e in events:
        at = datetime.fromisoformat(e["occurred_at"]).astimezone(UTC)
        key = (e["user_email"], e["model"], e["provider"])
        hourly[(at.replace(minute=0, second=0, microsecond=0), *key)].append(e)
        daily[(at.astimezone(tz).date(), *key)].append(e)
    return hourly, daily


def _figures(events):
    return {
        "requests": len(events),
        "errors": sum(e["status"] == "error" for e in events),
        "input_tokens": sum(e["input_tokens"] for e in events),
        "output_tokens": sum(e["output_tokens"] for e in events),
        "cost_microdollars": sum(e["cost_microdollars"] for e in events),
        "latency_p50_ms": nearest_rank([e["latency_ms"] for e in events], 50),
        "latency_p95_ms": nearest_rank([e["latency_ms"] for e in events], 95),
    }


def _random_events(rng, emails, now, count):
    events = []
    for _ in range(count):
        status = "error" if rng.random() < 0.1 else "success"
        events.append(
            make_event(
                occurred_at=now - timedelta(minutes=rng.randrange(60 * 24 * 20)),
                user_email=rng.choice(emails),
                model=rng.choice(["m-a", "m-b", "m-c"]),
                provider=rng.choice(["p1", "p2"]),
                input_tokens=rng.randrange(5000),
                output_tokens=rng.randrange(2000),
                cost_microdollars=rng.randrange(100_000),
                latency_ms=rng.randrange(1, 20_000),
                status=status,
                error_code="boom" if status == "error" else ...,
            )
        )
    return events


@pytest.mark.parametrize("tz_name", ["Europe/Berlin", "Asia/Kolkata", "America/Los_Angeles"])
def test_rollups_equal_the_raw_events_with_late_arrivals(tz_name, org, owner, member):
    org.time_zone = tz_name
    org.save()
    rng = random.Random(tz_name)
    emails = ["owner@acme.test", "member@acme.test"]
    now = timezone.now()
    first = _random_events(rng, emails, now, 600)
    _ingest(org, first)
    rollup_until_caught_up()
    late = _random_events(rng, emails, now, 400)  # spread over the same 20 days: late for most
    _ingest(org, late)
    rollup_until_caught_up()

    events = first + late
    hourly, daily = _raw(events, tz_name)
    users = {"owner@acme.test": owner.pk, "member@acme.test": member.pk}
    got_hourly = {
        (r.hour, r.user_id, r.model, r.provider): r
        for r in HourlyRollup.objects.filter(organization_id=org.pk)
    }
    assert len(got_hourly) == len(hourly)
    for (hour, email, model, provider), group in hourly.items():
        row = got_hourly[(hour, users[email], model, provider)]
        assert {k: getattr(row, k) for k in _figures(group)} == _figures(group)
    got_daily = {
        (r.day, r.user_id, r.model, r.provider): r
        for r in DailyRollup.objects.filter(organization_id=org.pk)
    }
    assert len(got_daily) == len(daily)
    for (day, email, model, provider), group in daily.items():
        row = got_daily[(day, users[email], model, provider)]
        assert {k: getattr(row, k) for k in _figures(group)} == _figures(group)

    # The compact rollups agree with the full ones.
    by_day = defaultdict(list)
    for (day, *_), group in daily.items():
        by_day[day].extend(group)
    for row in OrgDailyRollup.objects.filter(organization_id=org.pk):
        group = by_day[row.day]
        assert row.requests == len(group)
        assert row.cost_microdollars == sum(e["cost_microdollars"] for e in group)
        assert row.active_users == len({e["user_email"] for e in group})
    assert sum(OrgHourlyRollup.objects.values_list("requests", flat=True)) == len(events)
    assert sum(MemberDailyRollup.objects.values_list("requests", flat=True)) == len(events)
    model_rows = ModelDailyRollup.objects.filter(organization_id=org.pk)
    for row in model_rows:
        group = [
            e for e in by_day[row.day] if (e["model"], e["provider"]) == (row.model, row.provider)
        ]
        assert row.latency_p95_ms == nearest_rank([e["latency_ms"] for e in group], 95)


def _snapshot():
    return sorted(
        (r.hour, r.user_id, r.model, *(getattr(r, m) for m in METRICS), r.latency_p50_ms)
        for r in HourlyRollup.objects.all()
    ), sorted((r.day, r.requests, r.cost_microdollars) for r in OrgDailyRollup.objects.all())


def test_running_again_changes_nothing(org, member):
    _ingest(org, [make_event() for _ in range(20)])
    rollup_until_caught_up()
    before = _snapshot()
    assert rollup_run().events == 0
    # Even replaying the same id range (cursor reset) rebuilds identical rows, never doubles.
    RollupState.objects.update(last_event_id=0)
    rollup_until_caught_up()
    assert _snapshot() == before


def test_a_late_event_for_a_past_hour_is_folded_into_that_hour(org, member):
    past = (timezone.now() - timedelta(days=3)).replace(minute=10, second=0, microsecond=0)
    _ingest(org, [make_event(occurred_at=past, latency_ms=100, cost_microdollars=5)])
    rollup_until_caught_up()
    _ingest(
        org,
        [make_event(occurred_at=past + timedelta(minutes=5), latency_ms=300, cost_microdollars=7)],
    )
    rollup_until_caught_up()
    row = HourlyRollup.objects.get(hour=past.replace(minute=0))
    assert (row.requests, row.cost_microdollars, row.latency_p50_ms, row.latency_p95_ms) == (
        2,
        12,
        100,
        300,
    )


def test_percentiles_use_the_nearest_rank(org, member):
    at = (timezone.now() - timedelta(days=1)).replace(minute=5)
    latencies = list(range(10, 1010, 10))  # 100 values: p50 = 500, p95 = 950
    random.Random(1).shuffle(latencies)
    _ingest(org, [make_event(occurred_at=at, latency_ms=v) for v in latencies])
    rollup_until_caught_up()
    row = HourlyRollup.objects.get()
    assert (row.latency_p50_ms, row.latency_p95_ms) == (500, 950)
    assert statistics.median_low(latencies) == 500


def test_the_rollup_updates_members_last_activity(org, member):
    at = timezone.now() - timedelta(minutes=30)
    _ingest(org, [make_event(occurred_at=at)])
    rollup_until_caught_up()
    membership = Membership.objects.get(user=member)
    assert abs((membership.last_activity_at - at).total_seconds()) < 1
    # An older event never moves it backwards.
    _ingest(org, [make_event(occurred_at=at - timedelta(days=2))])
    rollup_until_caught_up()
    membership.refresh_from_db()
    assert abs((membership.last_activity_at - at).total_seconds()) < 1


def test_organizations_are_rolled_up_separately(org, member):
    other = make_org("globex", "Globex")
    boss = make_user("boss@globex.test")
    Membership.objects.create(organization=other, user=boss, role="owner")
    _ingest(org, [make_event(cost_microdollars=1)])
    _ingest(other, [make_event(user_email="boss@globex.test", cost_microdollars=2)])
    rollup_until_caught_up()
    assert OrgDailyRollup.objects.get(organization_id=org.pk).cost_microdollars == 1
    assert OrgDailyRollup.objects.get(organization_id=other.pk).cost_microdollars == 2


@pytest.mark.django_db(transaction=True)
def test_a_second_worker_skips_while_the_first_holds_the_claim(org, member):
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL")
    _ingest(org, [make_event()])
    RollupState.objects.get_or_create(pk=1)
    import threading

    from django.db import connections, transaction

    results = {}
    with transaction.atomic():
        RollupState.objects.select_for_update().get(pk=1)  # "the first worker"

        def second_worker():
            try:
                results["report"] = rollup_run()
            finally:
                connections.close_all()

        thread = threading.Thread(target=second_worker)
        thread.start()
        thread.join(10)
    assert results["report"].claimed is False


def test_the_task_runs_the_rollup(org, member):
    from usage.tasks import rollup_usage

    _ingest(org, [make_event()])
    assert rollup_usage() >= 1  # the task body, in-process
    assert HourlyRollup.objects.count() == 1
