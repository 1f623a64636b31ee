"""The owner opens the Usage tab, changes the date range and then a model filter: the figures
and the charts change without a full page load, and the filters land in the URL."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from tests.e2e.steps import log_in
from tests.usage.conftest import make_event
from usage.ingest import ingest_events
from usage.rollup import rollup_until_caught_up

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _spend(page: Page):
    return page.locator("article.stat").filter(has=page.get_by_role("heading", name="Total spend"))


def test_owner_changes_range_and_model_and_the_figures_follow(
    live_server, org, owner, member, new_page
):
    now = timezone.now() - timedelta(minutes=10)
    events = [make_event(occurred_at=now, cost_microdollars=1_000_000)]  # $1 today, Sonnet
    events += [
        make_event(
            occurred_at=now - timedelta(days=45),
            model="gpt-5",
            provider="openai",
            cost_microdollars=2_000_000,
        ),
        make_event(occurred_at=now - timedelta(days=50), cost_microdollars=4_000_000),
    ]
    assert ingest_events(organization_id=org.pk, events=events).accepted == 3
    rollup_until_caught_up()

    page = new_page()
    log_in(page, live_server.url, owner.email)
    page.goto(f"{live_server.url}/orgs/{org.slug}/usage/?range=7d")
    expect(_spend(page)).to_contain_text("$1.00")
    expect(page.locator(".js-plotly-plot").first).to_be_visible()
    expect(page.locator(".modebar")).to_have_count(0)  # plotly's tool bar is hidden
    charts_before = page.locator(".js-plotly-plot").count()
    assert charts_before >= 8

    page.get_by_label("Date range").select_option("90d")
    expect(_spend(page)).to_contain_text("$7.00")
    expect(page).to_have_url(re.compile(r"range=90d"))

    page.get_by_label("Model", exact=True).select_option("gpt-5")
    expect(_spend(page)).to_contain_text("$2.00")
    expect(page).to_have_url(re.compile(r"model=gpt-5"))
    expect(page.locator("#chart-models-requests-data")).to_have_count(1)
    assert "claude-sonnet-4-5" not in page.locator("#chart-models-requests-data").text_content()
    expect(page.locator(".js-plotly-plot")).to_have_count(charts_before)
