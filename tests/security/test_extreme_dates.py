"""Extreme or inconsistent dates get a clear message, never a 500 (issue 9, item 6)."""

from datetime import UTC, date, datetime

import pytest
from django.urls import reverse

from tests.conftest import client_for
from usage.filters import parse_filters

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _frozen(time_machine):
    time_machine.move_to(NOW, tick=False)


def _usage(user, org, view: str, query: str):  # noqa: ANN001, ANN202
    return client_for(user).get(reverse(view, args=[org.slug]) + query)


EXTREME_USAGE = [
    (
        "?range=custom&start=0001-01-01&end=0001-01-02",
        "A custom range can start on 2024-09-16 at the earliest.",
    ),
    (
        "?range=custom&start=2026-11-20&end=2026-11-01",
        "The custom range starts (2026-11-20) after it ends (2026-11-01).",
    ),
    (
        "?range=custom&start=2025-01-01&end=2026-11-01",
        "A custom range covers at most 400 days; this one has 670.",
    ),
    ("?range=custom&start=9999-12-30&end=9999-12-31", "The custom range starts in the future"),
    ("?range=custom&start=2026-11-01", "Enter both dates of the custom range (YYYY-MM-DD)."),
    ("?range=custom&start=2026-13-01&end=2026-11-02", "Enter both dates"),
]


@pytest.mark.parametrize(("query", "message"), EXTREME_USAGE)
def test_usage_tab_says_why_a_custom_range_is_not_shown(org, owner, query, message):
    response = _usage(owner, org, "usage_tab", query)
    assert response.status_code == 200
    html = response.content.decode()
    assert message in html
    assert "Showing This billing period" in html
    assert response.context["filters"].range == "period"


@pytest.mark.parametrize(("query", "message"), EXTREME_USAGE)
def test_usage_export_refuses_a_range_it_cannot_export(org, member, query, message):
    response = _usage(member, org, "usage_export", query)
    assert response.status_code == 400
    assert message in response.content.decode()


def test_a_valid_custom_range_has_no_error_and_ends_today_at_the_latest():
    f = parse_filters(
        {"range": "custom", "start": "2026-11-01", "end": "2026-12-31"}, time_zone="UTC", now=NOW
    )
    assert (f.range, f.start, f.end, f.error) == ("custom", date(2026, 11, 1), NOW.date(), "")


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"date_from": "9999-12-31", "date_to": "9999-12-31"}, "From: Enter a date between"),
        ({"date_from": "0001-01-01", "date_to": "9999-12-31"}, "To: Enter a date between"),
        ({"date_from": "2026-11-20", "date_to": "2026-11-01"}, "“From” (2026-11-20) is after"),
    ],
)
def test_billing_history_says_why_dates_are_refused(org, owner, query, message):
    client = client_for(owner)
    page = client.get(reverse("billing_tab", args=[org.slug]), query)
    assert page.status_code == 200
    assert message in page.content.decode()
    assert "Showing all activity instead." in page.content.decode()
    export = client.get(reverse("billing_history_csv", args=[org.slug]), query)
    assert export.status_code == 400
    assert message in export.content.decode()
