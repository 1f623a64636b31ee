"""The rollup: merge-only and incremental, late events folded in, figures equal to the raw events
(sums exactly; latency percentiles within the sketch's stated relative error)."""

import random
import statistics
import zoneinfo
from collections import defaultdict
from datetime import datetime, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from organizations.models import Membership
from tests.conftest import make_org, make_user
from usage import rollup, sketch
from usage.ingest import ingest_events
from usage.models import (
    DailyRollup,
    MemberDailyRollup,
    ModelDailyRollup,
    ModelWeeklyLatency,
    OrgDailyRollup,
    RollupState,
    UsageEvent,
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
    """The expected rollups, computed straight from the event dicts: events per local day (and
    member, model, provider), and requests per local day and local hour."""
    tz = zoneinfo.ZoneInfo(tz_name)
    by_hour, daily = defaultdict(int), defaultdict(list)
    for e in events:
        local = datetime.fromisoformat(e["occurred_at"]).astimezone(tz)
        key = (e["user_email"], e["model"], e["provider"])
        by_hour[(local.date(), local.hour, *key)] += 1
        daily[(local.date(), *key)].append(e)
    return by_hour, daily


def _hours(row) -> list[int]:
    """A rollup row's requests per local hour, h00 .. h23."""
    return [getattr(row, f"requests_h{hour:02d}") for hour in range(24)]


def _expected_hours(by_hour, day, match) -> list[int]:
    """Requests per local hour of `day`, over the (email, model, provider) keys `match` accepts."""
    hours = [0] * 24
    for (d, hour, *key), count in by_hour.items():
        if d == day and match(*key):
            hours[hour] += count
    return hours


def _figures(events):
    return {
        "requests": len(events),
        "errors": sum(e["status"] == "error" for e in events),
        "input_tokens": sum(e["input_tokens"] for e in events),
        "output_tokens": sum(e["output_tokens"] for e in events),
        "cost_microdollars": sum(e["cost_microdollars"] for e in events),
    }


def assert_close(estimate: int, exact: int) -> None:
    """The sketch's promise: within ALPHA of the exact value, plus rounding to the millisecond."""
    assert abs(estimate - exact) <= sketch.ALPHA * exact + 0.5, (estimate, exact)


def assert_latency(row, events) -> None:
    latencies = [e["latency_ms"] for e in events]
    assert sum(row.latency_histogram.values()) == len(events)
    assert_close(row.latency_p50_ms, nearest_rank(latencies, 50))
    assert_close(row.latency_p95_ms, nearest_rank(latencies, 95))


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
    by_hour, daily = _raw(events, tz_name)
    users = {"owner@acme.test": owner.pk, "member@acme.test": member.pk}
    emails = {pk: email for email, pk in users.items()}
    got_daily = {
        (r.day, r.user_id, r.model, r.provider): r
        for r in DailyRollup.objects.filter(organization_id=org.pk)
    }
    assert len(got_daily) == len(daily)
    for (day, email, model, provider), group in daily.items():
        row = got_daily[(day, users[email], model, provider)]
        assert {k: getattr(row, k) for k in _figures(group)} == _figures(group)
        assert_latency(row, group)
        assert _hours(row) == _expected_hours(
            by_hour, day, lambda e, m, p, key=(email, model, provider): (e, m, p) == key
        )

    # The compact rollups agree with the events, their hour counters included.
    by_day = defaultdict(list)
    for (day, *_), group in daily.items():
        by_day[day].extend(group)
    for row in OrgDailyRollup.objects.filter(organization_id=org.pk):
        group = by_day[row.day]
        assert row.requests == len(group)
        assert row.cost_microdollars == sum(e["cost_microdollars"] for e in group)
        assert row.active_users == len({e["user_email"] for e in group})
        assert _hours(row) == _expected_hours(by_hour, row.day, lambda *key: True)
    for table in (OrgDailyRollup, MemberDailyRollup, ModelDailyRollup):
        rows = table.objects.filter(organization_id=org.pk)
        assert sum(rows.values_list("requests", flat=True)) == len(events)
    for row in MemberDailyRollup.objects.filter(organization_id=org.pk):
        assert _hours(row) == _expected_hours(
            by_hour, row.day, lambda e, m, p, email=emails[row.user_id]: e == email
        )
    model_rows = ModelDailyRollup.objects.filter(organization_id=org.pk)
    for row in model_rows:
        group = [
            e for e in by_day[row.day] if (e["model"], e["provider"]) == (row.model, row.provider)
        ]
        assert row.requests == len(group)
        assert_latency(row, group)
        assert _hours(row) == _expected_hours(
            by_hour, row.day, lambda e, m, p, key=(row.model, row.provider): (m, p) == key
        )
    # Each model's weekly histogram holds its local week's events (weeks start on Monday).
    by_model_week = defaultdict(int)
    for (day, _email, model, provider), group in daily.items():
        by_model_week[(day - timedelta(days=day.weekday()), model, provider)] += len(group)
    weekly = ModelWeeklyLatency.objects.filter(organization_id=org.pk)
    assert {
        (r.week, r.model, r.provider): sum(r.latency_histogram.values()) for r in weekly
    } == by_model_week


def _snapshot():
    return sorted(
        (r.day, r.user_id, r.model, *(getattr(r, m) for m in METRICS), *_hours(r))
        for r in DailyRollup.objects.all()
    ), sorted(
        (r.day, r.user_id, r.model, r.requests, r.latency_histogram, r.latency_p95_ms)
        for r in DailyRollup.objects.all()
    )


def test_running_again_changes_nothing(org, member):
    _ingest(org, [make_event() for _ in range(20)])
    rollup_until_caught_up()
    before = _snapshot()
    report = rollup_run()
    assert (report.claimed, report.events, report.chunks) == (True, 0, 0)
    assert _snapshot() == before


def test_a_chunk_that_fails_leaves_rollups_and_cursor_untouched(org, member, monkeypatch):
    _ingest(org, [make_event(cost_microdollars=5) for _ in range(3)])
    rollup_until_caught_up()
    before = _snapshot()
    _ingest(org, [make_event(cost_microdollars=7) for _ in range(2)])

    def crash(cursor):
        raise RuntimeError("worker killed mid-chunk")

    monkeypatch.setattr(rollup, "_touch_activity", crash)  # the last step before the cursor moves
    with pytest.raises(RuntimeError):
        rollup_run()
    assert _snapshot() == before
    monkeypatch.undo()
    rollup_until_caught_up()  # the retry folds the two events in exactly once
    assert OrgDailyRollup.objects.get().cost_microdollars == 3 * 5 + 2 * 7


def test_small_chunks_give_the_same_rollups_and_count_events_not_ids(org, member):
    at = timezone.now() - timedelta(hours=2)
    _ingest(org, [make_event(occurred_at=at, cost_microdollars=1) for _ in range(10)])
    from django.db import transaction

    with pytest.raises(RuntimeError), transaction.atomic():  # a batch that rolls back: an id gap
        _ingest(org, [make_event(occurred_at=at) for _ in range(5)])
        raise RuntimeError("client went away")
    _ingest(org, [make_event(occurred_at=at, cost_microdollars=1) for _ in range(3)])
    ids = list(UsageEvent.objects.order_by("id").values_list("id", flat=True))
    assert len(ids) == 13 and ids[-1] - ids[0] + 1 == 18  # 13 events over 18 ids

    RollupState.objects.update_or_create(pk=1, defaults={"last_event_id": ids[0] - 1})
    report = rollup_run(chunk_events=4)
    assert report.events == 13  # events, not the 18-id range
    # One transaction per chunk of 4 ids: 1-4, 5-8, 9-12 (9, 10 stored), then the gap 11-15 is
    # skipped and 16-19 takes the last three.
    assert report.chunks == 4
    row = OrgDailyRollup.objects.get()
    assert (row.requests, row.cost_microdollars, row.active_users) == (13, 13, 1)
    assert sum(DailyRollup.objects.get().latency_histogram.values()) == 13


def test_a_run_stops_at_its_event_budget_and_the_next_run_resumes(org, member):
    _ingest(org, [make_event(cost_microdollars=2) for _ in range(9)])
    first = rollup_run(chunk_events=4, max_events=4)
    assert first.events == 4
    assert OrgDailyRollup.objects.get().requests == 4
    rollup_until_caught_up()
    assert OrgDailyRollup.objects.get().cost_microdollars == 18


def test_a_late_event_for_a_past_hour_is_folded_into_that_day_and_hour(org, member):
    past = (timezone.now() - timedelta(days=3)).replace(minute=10, second=0, microsecond=0)
    _ingest(org, [make_event(occurred_at=past, latency_ms=100, cost_microdollars=5)])
    rollup_until_caught_up()
    _ingest(
        org,
        [make_event(occurred_at=past + timedelta(minutes=5), latency_ms=300, cost_microdollars=7)],
    )
    rollup_until_caught_up()
    daily = DailyRollup.objects.get()
    assert (daily.requests, daily.cost_microdollars) == (2, 12)
    local = past.astimezone(zoneinfo.ZoneInfo(org.time_zone))
    assert daily.day == local.date()
    assert _hours(daily) == [2 if hour == local.hour else 0 for hour in range(24)]
    # Histogram merged, not rebuilt. ln(gamma) = ln(1.02 / 0.98) = 0.0400053: 100 ms is in bucket
    # ceil(4.60517 / 0.0400053) = ceil(115.11) = 116, 300 ms in ceil(5.70378 / 0.0400053) = 143.
    assert daily.latency_histogram == {"116": 1, "143": 1}
    # p50 is the 1st of 2 (bucket 116: 2 * e^(116 * 0.0400053) / 2.0408 = 101.5 -> 102 ms),
    # p95 the 2nd (bucket 143: 299 ms): both within 2 % of 100 and 300.
    assert (daily.latency_p50_ms, daily.latency_p95_ms) == (102, 299)


def test_percentiles_use_the_nearest_rank(org, member):
    at = (timezone.now() - timedelta(days=1)).replace(minute=5)
    latencies = list(range(10, 1010, 10))  # 100 values: p50 = 500, p95 = 950
    random.Random(1).shuffle(latencies)
    _ingest(org, [make_event(occurred_at=at, latency_ms=v) for v in latencies])
    rollup_until_caught_up()
    row = DailyRollup.objects.get()
    assert_close(row.latency_p50_ms, 500)
    assert_close(row.latency_p95_ms, 950)
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
    assert rollup_usage() == 1  # the task body, in-process: one event merged
    assert DailyRollup.objects.count() == 1


def test_page_versions_change_at_most_every_few_seconds_within_a_run_and_at_its_end(
    org, member, monkeypatch
):
    """Three chunks in one run (well within VERSION_EVERY_SECONDS): the version changes after
    the first chunk and once more when the run ends, not after every chunk."""
    bumps = []
    real = rollup._bump_versions
    monkeypatch.setattr(rollup, "_bump_versions", lambda ids: bumps.append(set(ids)) or real(ids))
    before = rollup.rollup_version(org.pk)
    _ingest(org, [make_event() for _ in range(9)])
    report = rollup_run(chunk_events=4)
    assert report.chunks == 3
    assert [b for b in bumps if b] == [{org.pk}, {org.pk}]
    assert rollup.rollup_version(org.pk) != before  # fresh once the run is over
