"""The owner adds two seats in the browser: the confirmation shows the prorated cost (the
amount then charged), and the tab shows the new seat count and a history row."""

import re

import pytest
from playwright.sync_api import expect

from subscriptions.models import ChangeKind, SubscriptionChange
from tests.e2e.steps import log_in
from tests.subscriptions.conftest import in_stripe, subscribe

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def subscribed(org, owner, admin, member):
    return subscribe(org, owner, seats=10)


def test_owner_adds_two_seats_after_seeing_the_prorated_cost(
    live_server, org, owner, subscribed, new_page
):
    page = new_page()
    log_in(page, live_server.url, owner.email)
    page.goto(f"{live_server.url}/orgs/{org.slug}/subscriptions/")
    expect(page.get_by_test_id("seat-count")).to_have_text("10 seats")

    page.get_by_label("Seats to add").fill("2")
    page.get_by_role("button", name="Review cost").click()

    expect(page.get_by_role("heading", name="Add 2 seats?")).to_be_visible()
    amount = page.get_by_test_id("prorated-amount").inner_text()
    assert re.fullmatch(r"\$\d+\.\d\d", amount), amount
    expect(page.get_by_test_id("proration")).to_contain_text("Remaining time on 12")
    page.get_by_role("button", name=f"Confirm and pay {amount}").click()

    expect(page.get_by_test_id("seat-count")).to_have_text("12 seats")
    expect(page.get_by_text("You now have 12 seats")).to_be_visible()
    history = page.get_by_test_id("seat-history")
    expect(history.locator("tbody tr").first).to_contain_text("Seats added")
    expect(history.locator("tbody tr").first).to_contain_text("10 → 12 seats")
    expect(history.locator("tbody tr").first).to_contain_text(amount)
    change = SubscriptionChange.objects.get(kind=ChangeKind.SEATS_ADDED)
    assert f"${change.amount_cents / 100:,.2f}" == amount
    assert in_stripe(subscribed).quantity == 12


def test_owner_reviews_the_next_charge_of_a_new_billing_frequency_then_confirms(
    live_server, org, owner, subscribed, new_page
):
    page = new_page()
    log_in(page, live_server.url, owner.email)
    page.goto(f"{live_server.url}/orgs/{org.slug}/subscriptions/")

    page.get_by_label("Billing frequency from the next renewal").select_option("year")
    page.get_by_role("button", name="Review frequency change").click()

    # 10 seats x $15 = $150.00 monthly today; 10 x $15 x 12 = $1,800.00 yearly after the change.
    expect(page.get_by_role("heading", name="Switch to yearly billing?")).to_be_visible()
    expect(page.get_by_test_id("interval-preview")).to_contain_text("$150.00")
    expect(page.get_by_test_id("next-charge")).to_have_text("$1,800.00")
    subscribed.refresh_from_db()
    assert subscribed.scheduled_interval == ""  # reviewing changes nothing

    page.get_by_role("button", name=re.compile(r"^Confirm: \$1,800\.00 on ")).click()

    expect(page.get_by_text("Billing becomes yearly at the renewal")).to_be_visible()
    subscribed.refresh_from_db()
    assert subscribed.scheduled_interval == "year"
