"""Which dates "this billing period" and the comparison period cover."""

from datetime import UTC, date, datetime, timedelta

import pytest

from subscriptions.models import Subscription
from subscriptions.selectors import current_period_dates
from usage.filters import parse_filters

NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)


def test_without_a_subscription_the_period_is_the_calendar_month_to_date():
    f = parse_filters({}, time_zone="Europe/Berlin", now=NOW)
    assert (f.start, f.end) == (date(2026, 11, 1), date(2026, 11, 25))
    assert (f.previous_start, f.previous_end) == (date(2026, 10, 1), date(2026, 10, 25))


def test_with_a_subscription_the_period_is_the_subscription_period_to_date():
    f = parse_filters(
        {},
        time_zone="Europe/Berlin",
        now=NOW,
        billing_period=(date(2026, 11, 10), date(2026, 12, 10)),
    )
    assert (f.range, f.start, f.end) == ("period", date(2026, 11, 10), date(2026, 11, 25))
    # The same 16 days of the previous period of equal length (30 days).
    assert (f.previous_start, f.previous_end) == (date(2026, 10, 11), date(2026, 10, 26))


def test_other_ranges_ignore_the_subscription_period():
    f = parse_filters(
        {"range": "7d"},
        time_zone="UTC",
        now=NOW,
        billing_period=(date(2026, 11, 10), date(2026, 12, 10)),
    )
    assert (f.start, f.end) == (date(2026, 11, 19), date(2026, 11, 25))


@pytest.mark.django_db
def test_the_live_subscriptions_period_is_read_in_the_organizations_time_zone(org):
    start = datetime(2026, 11, 9, 23, 30, tzinfo=UTC)  # already 10 November in Berlin
    Subscription.objects.create(
        organization=org,
        stripe_id="sub_test",
        plan="teams",
        interval="month",
        quantity=10,
        status="active",
        current_period_start=start,
        current_period_end=start + timedelta(days=30),
    )
    assert current_period_dates(org) == (date(2026, 11, 10), date(2026, 12, 10))
    Subscription.objects.filter(organization=org).update(status="canceled")
    assert current_period_dates(org) is None
