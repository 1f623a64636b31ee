"""The Usage page's selectors on each filter combination: the narrow rollups give the same
figures the events give (hand-counted here), and model percentiles span the whole window."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from usage.filters import parse_filters
from usage.ingest import ingest_events
from usage.rollup import rollup_until_caught_up
from usage.selectors import scope_filters, usage_page

from .conftest import make_event

pytestmark = pytest.mark.django_db

# Wednesday 2026-11-25 and Thursday 2026-11-26 (UTC; the organization's zone is UTC here).
WED_09 = datetime(2026, 11, 25, 9, 15, tzinfo=UTC)
WED_10 = datetime(2026, 11, 25, 10, 5, tzinfo=UTC)
THU_09 = datetime(2026, 11, 26, 9, 40, tzinfo=UTC)
NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)


@pytest.fixture
def usage(org, owner, member):
    org.time_zone = "UTC"
    org.save()
    events = [
        # owner, gpt-5: Wed 9h x2, Thu 9h x1
        make_event(
            occurred_at=WED_09,
            user_email="owner@acme.test",
            model="gpt-5",
            provider="openai",
            cost_microdollars=1,
            latency_ms=100,
        ),
        make_event(
            occurred_at=WED_09,
            user_email="owner@acme.test",
            model="gpt-5",
            provider="openai",
            cost_microdollars=1,
            latency_ms=200,
        ),
        make_event(
            occurred_at=THU_09,
            user_email="owner@acme.test",
            model="gpt-5",
            provider="openai",
            cost_microdollars=1,
            latency_ms=1000,
        ),
        # member, gpt-5: Wed 10h x1
        make_event(
            occurred_at=WED_10,
            user_email="member@acme.test",
            model="gpt-5",
            provider="openai",
            cost_microdollars=10,
            latency_ms=300,
        ),
        # member, claude: Wed 9h x4
        *[
            make_event(
                occurred_at=WED_09,
                user_email="member@acme.test",
                model="claude-sonnet-4-5",
                provider="anthropic",
                cost_microdollars=100,
                latency_ms=50,
            )
            for _ in range(4)
        ],
    ]
    assert ingest_events(organization_id=org.pk, events=events, now=NOW).accepted == 8
    rollup_until_caught_up()


def page_for(org, owner, member_user=None, **params):
    with time_machine.travel(NOW, tick=False):
        filters = parse_filters({"range": "7d", **params}, time_zone="UTC")
        if member_user is not None:
            from organizations.models import Membership

            public_id = Membership.objects.get(organization=org, user=member_user).public_id
            filters = parse_filters(
                {"range": "7d", "member": str(public_id), **params}, time_zone="UTC"
            )
        filters = scope_filters(org, filters, viewer_id=owner.pk, all_members=True)
        return usage_page(org, filters, all_members=True)


def gpt_events(day: int, latencies: list[int]) -> list[dict]:
    """The owner's gpt-5 requests at noon UTC on that day of November 2026, one per latency."""
    return [
        make_event(
            occurred_at=datetime(2026, 11, day, 12, tzinfo=UTC),
            user_email="owner@acme.test",
            model="gpt-5",
            provider="openai",
            latency_ms=latency,
        )
        for latency in latencies
    ]


def cell(page, weekday, hour):
    return page.weekly[weekday][hour]


def test_weekly_pattern_for_every_filter_combination(org, owner, member, usage):
    everyone = page_for(org, owner)
    assert (cell(everyone, 2, 9), cell(everyone, 2, 10), cell(everyone, 3, 9)) == (6, 1, 1)
    by_model = page_for(org, owner, model="gpt-5")
    assert (cell(by_model, 2, 9), cell(by_model, 2, 10), cell(by_model, 3, 9)) == (2, 1, 1)
    by_provider = page_for(org, owner, provider="anthropic")
    assert (cell(by_provider, 2, 9), cell(by_provider, 2, 10)) == (4, 0)
    by_member = page_for(org, owner, member_user=member)
    assert (cell(by_member, 2, 9), cell(by_member, 2, 10), cell(by_member, 3, 9)) == (4, 1, 0)
    both = page_for(org, owner, member_user=member, model="gpt-5")
    assert (cell(both, 2, 9), cell(both, 2, 10)) == (0, 1)
    assert sum(map(sum, both.weekly)) == 1


def test_model_percentiles_cover_the_whole_window_not_an_average_of_days(org, owner, member, usage):
    page = page_for(org, owner, model="gpt-5")
    (gpt,) = page.models
    # gpt-5 latencies over the window: 100, 200, 300 (Wed) and 1000 (Thu). Nearest rank:
    # p50 = 2nd of 4 = 200 ms (bucket 133, read as 200), p95 = 4th = 1000 ms (read as 993).
    # Averaging the days' p95 weighted by requests would give (300 * 3 + 1000) / 4 = 475.
    assert (gpt.totals.requests, gpt.totals.cost) == (4, 13)
    assert (gpt.p50_ms, gpt.p95_ms) == (200, 993)
    owner_only = page_for(org, owner, member_user=owner, model="gpt-5")
    assert (owner_only.models[0].p50_ms, owner_only.models[0].p95_ms) == (200, 993)


def test_model_percentiles_read_whole_weeks_and_the_edge_days_of_the_window(org, owner):
    """A custom window Sun 8 Nov - Tue 24 Nov 2026: whole weeks 9-15 and 16-22 come from the
    weekly histograms, Sun 8, Mon 23 and Tue 24 from the daily ones; 7 and 25 Nov are outside."""
    org.time_zone = "UTC"
    org.save()
    latencies_by_day = {
        7: [5000] * 5,
        8: [4000] * 2,
        10: [100] * 3,
        18: [200] * 3,
        24: [3000] * 2,
        25: [6000] * 5,
    }
    events = [
        event for day, latencies in latencies_by_day.items() for event in gpt_events(day, latencies)
    ]
    assert ingest_events(organization_id=org.pk, events=events, now=NOW).accepted == len(events)
    rollup_until_caught_up()
    page = page_for(org, owner, range="custom", start="2026-11-08", end="2026-11-24")
    (gpt,) = page.models
    # In the window: 100 x3, 200 x3, 3000 x2, 4000 x2 (10 requests). Nearest rank: p50 is the
    # 5th (200 ms), p95 the 10th (4000 ms). Without the edge days p95 would be 200; without
    # the weeks p50 would be 3000; with 7 or 25 Nov counted, p95 would be 5000 or 6000.
    assert gpt.totals.requests == 10
    assert abs(gpt.p50_ms - 200) <= 0.02 * 200 + 0.5
    assert abs(gpt.p95_ms - 4000) <= 0.02 * 4000 + 0.5


def test_the_weekly_pattern_counts_only_the_window(org, owner, member, usage):
    """Days read for the month comparison (before the window) stay out of the weekly grid."""
    earlier = datetime(2026, 11, 11, 9, 30, tzinfo=UTC)  # a Wednesday 16 days before NOW
    event = make_event(
        occurred_at=earlier, user_email="owner@acme.test", model="gpt-5", provider="openai"
    )
    result = ingest_events(organization_id=org.pk, events=[event], now=NOW)
    assert result.accepted == 1, result.errors
    rollup_until_caught_up()
    page = page_for(org, owner)  # the last 7 days
    assert cell(page, 2, 9) == 6  # the fixture's six Wednesday 9h requests, not seven
    assert sum(map(sum, page.weekly)) == 8
    wide = page_for(org, owner, range="30d")
    assert cell(wide, 2, 9) == 7


def test_a_late_event_on_a_settled_day_reaches_the_cached_sums_and_percentiles(org, owner):
    """The settled days' sums and histograms are cached (rollup.SETTLED_AFTER_DAYS): a late
    event on one of them must still change the figures on the next page."""
    org.time_zone = "UTC"
    org.save()

    # Nov 10 is settled on NOW (Nov 27: settled up to Nov 25), Nov 26 is recent.
    first = gpt_events(10, [100, 100, 100]) + gpt_events(26, [200])
    assert ingest_events(organization_id=org.pk, events=first, now=NOW).accepted == 4
    rollup_until_caught_up()
    (gpt,) = page_for(org, owner, range="30d").models
    # 100, 100, 100, 200: p50 the 2nd (100 ms), p95 the 4th (200 ms), within 2 %.
    assert abs(gpt.p50_ms - 100) <= 2.5 and abs(gpt.p95_ms - 200) <= 4.5

    late = gpt_events(12, [9000, 9000])
    assert ingest_events(organization_id=org.pk, events=late, now=NOW).accepted == 2
    rollup_until_caught_up()
    page = page_for(org, owner, range="30d")
    (gpt,) = page.models
    # 100 x3, 200, 9000 x2: p95 is the 6th of 6 (9000 ms); the stale merge would say 200.
    assert gpt.totals.requests == 6
    assert [(m.email, m.totals.requests) for m in page.members] == [("owner@acme.test", 6)]
    assert abs(gpt.p95_ms - 9000) <= 0.02 * 9000 + 0.5


def test_live_events_leave_the_settled_days_cache_alone_and_late_ones_replace_it(org, owner):
    from django.utils import timezone

    from usage.rollup import settled_version

    org.time_zone = "UTC"
    org.save()
    before = settled_version(org.pk)
    now = timezone.now()
    for at in (now - timedelta(hours=1), now - timedelta(days=1)):  # today, yesterday (UTC)
        event = make_event(occurred_at=at, user_email="owner@acme.test")
        assert ingest_events(organization_id=org.pk, events=[event]).accepted == 1
        rollup_until_caught_up()
        assert settled_version(org.pk) == before
    late = make_event(occurred_at=now - timedelta(days=2), user_email="owner@acme.test")
    assert ingest_events(organization_id=org.pk, events=[late]).accepted == 1
    rollup_until_caught_up()
    assert settled_version(org.pk) != before


def test_settled_days_are_the_organizations_own_days(org, owner):
    """Kiritimati is UTC+14: at 12:00 UTC on Nov 27 it is 02:00 on Nov 28 there, so Nov 26 is
    already two days back (settled) there, while a UTC reckoning would still call it yesterday."""
    from usage.rollup import settled_version

    org.time_zone = "Pacific/Kiritimati"
    org.save()
    now = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    with time_machine.travel(now, tick=False):
        before = settled_version(org.pk)
        yesterday = make_event(
            occurred_at=datetime(2026, 11, 26, 10, 30, tzinfo=UTC),  # 00:30 on Nov 27 there
            user_email="owner@acme.test",
        )
        assert ingest_events(organization_id=org.pk, events=[yesterday]).accepted == 1
        rollup_until_caught_up()
        assert settled_version(org.pk) == before
        two_days_back = make_event(
            occurred_at=datetime(2026, 11, 26, 9, 30, tzinfo=UTC),  # 23:30 on Nov 26 there
            user_email="owner@acme.test",
        )
        assert ingest_events(organization_id=org.pk, events=[two_days_back]).accepted == 1
        rollup_until_caught_up()
        assert settled_version(org.pk) != before
