"""The Usage tab's first screen on the first day of a billing period (the demo's case).

Acme (Europe/Berlin, no subscription: the billing period is the calendar month) used $1 a day
from 20 to 31 October, nothing yet on 1 November. Opened on 1 November at 10:00 Berlin, the tab
must not show $0.00 everywhere, "-100%" comparisons and empty charts.
"""

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from tests.conftest import client_for
from usage.ingest import ingest_events
from usage.rollup import rollup_until_caught_up

from .conftest import make_event

pytestmark = pytest.mark.django_db
BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 11, 1, 10, 0, tzinfo=BERLIN)
DAY_MS = 86_400_000


@pytest.fixture
def october_usage(org, owner, member):
    with time_machine.travel(NOW, tick=False):
        events = [
            make_event(
                occurred_at=datetime(2026, 10, day, 14, 0, tzinfo=BERLIN),
                cost_microdollars=1_000_000,
            )
            for day in range(20, 32)
        ]
        result = ingest_events(organization_id=org.pk, events=events)
        assert result.accepted == 12, result.errors
        rollup_until_caught_up()


def _tab(user, org, query=""):
    with time_machine.travel(NOW, tick=False):
        return client_for(user).get(reverse("usage_tab", args=[org.slug]) + query)


def test_the_first_screen_opens_on_the_last_30_days_and_says_why(org, owner, october_usage):
    response = _tab(owner, org)

    filters = response.context["filters"]
    assert filters.range == "30d"
    assert (filters.start, filters.end) == (datetime(2026, 10, 3).date(), NOW.date())
    assert response.context["page"].metrics[0].value == 12_000_000  # 12 days x $1
    assertContains(response, "A new billing period started today and has no usage yet")
    assertContains(response, "Previous billing period (1 Oct – 31 Oct)")
    assertContains(response, "range=custom&amp;start=2026-10-01&amp;end=2026-10-31")
    assert response.context["charts"]  # the charts are drawn
    # The month comparison starts with the first month with usage, not four empty bars.
    assert [row.month.isoformat() for row in response.context["page"].months] == [
        "2026-10-01",
        "2026-11-01",
    ]


def test_a_period_that_started_today_opens_on_the_last_30_days_even_with_usage_today(
    org, owner, october_usage
):
    with time_machine.travel(NOW, tick=False):
        ingest_events(
            organization_id=org.pk,
            events=[make_event(occurred_at=NOW - timedelta(hours=1), cost_microdollars=500_000)],
        )
        rollup_until_caught_up()

    response = _tab(owner, org)

    assert response.context["filters"].range == "30d"
    assert response.context["page"].metrics[0].value == 12_500_000
    assertContains(response, "A new billing period started today, so this shows")


def test_the_empty_billing_period_is_one_clear_empty_state_without_charts(
    org, owner, october_usage
):
    response = _tab(owner, org, "?range=period")

    assert response.context["filters"].range == "period"
    assert response.context["charts"] == {}
    assertContains(response, "No usage in This billing period (1 Nov – 1 Nov 2026)")
    assertContains(response, "A new billing period started today.")
    assertContains(response, "Show the previous billing period (1 Oct – 31 Oct)")
    assertContains(response, "Show the last 30 days")
    html = response.content.decode()
    assert "-100" not in html and "data-plotly" not in html
    assertNotContains(response, "Total spend")


def test_the_previous_period_link_shows_octobers_usage(org, owner, october_usage):
    response = _tab(owner, org, "?range=custom&start=2026-10-01&end=2026-10-31")

    assert response.context["page"].metrics[0].value == 12_000_000
    assert response.context["has_usage"] is True


def test_an_explicit_range_is_kept_even_when_empty(org, owner, october_usage):
    response = _tab(owner, org, "?range=7d&model=gpt-5")

    assert response.context["filters"].range == "7d"
    assert response.context["new_period"] is None
    assertContains(response, "No requests match these filters in this range.")
    assertContains(response, "Clear the filters")


def test_today_alone_is_not_compared_with_a_whole_day(org, owner, october_usage):
    with time_machine.travel(NOW, tick=False):
        ingest_events(
            organization_id=org.pk,
            events=[
                make_event(occurred_at=NOW - timedelta(hours=1), cost_microdollars=500_000),
                make_event(
                    occurred_at=datetime(2026, 10, 1, 15, 0, tzinfo=BERLIN),
                    cost_microdollars=1_000_000,
                ),
            ],
        )
        rollup_until_caught_up()

    response = _tab(owner, org, "?range=period")

    assert response.context["page"].metrics[0].value == 500_000
    assertContains(response, "So far today</span> · 1 Oct: $1.00", html=False)
    assertNotContains(response, "-50.0%")  # $0.50 this morning against all of 1 Oct ($1.00)


def test_day_axes_tick_on_whole_days_and_the_heatmap_scale_starts_at_zero(
    org, owner, october_usage
):
    short = _tab(owner, org, "?range=custom&start=2026-10-31&end=2026-10-31").context["charts"]
    spend = json.loads(short["daily_spend"])["layout"]["xaxis"]
    assert spend["dtick"] == DAY_MS and spend["tickformat"] == "%-d %b"
    assert spend["tick0"] == "2026-10-31" and spend["type"] == "date"
    heatmap = json.loads(short["weekly"])["data"][0]
    assert heatmap["zmin"] == 0 and heatmap["zmax"] == 1  # one request, Saturday 14:00

    wide = _tab(owner, org, "?range=90d").context["charts"]
    assert "dtick" not in json.loads(wide["daily_tokens"])["layout"]["xaxis"]
