"""The current API's shapes (Stripe's official fixtures) parse like localstripe's, and the
proration we compute where localstripe cannot preview follows Stripe's rules."""

import json
from pathlib import Path

import pytest

from billing import stripe_subscriptions

FIXTURES = Path(__file__).resolve().parents[1] / "data" / "stripe" / "fixtures3.json"


@pytest.fixture(scope="module")
def resources() -> dict:
    return json.loads(FIXTURES.read_text())["resources"]


def test_a_current_api_subscription_reads_its_period_and_price_from_the_item(resources):
    data = stripe_subscriptions.parse_subscription(resources["subscription"])
    item = resources["subscription"]["items"]["data"][0]
    assert data.item_id == item["id"]
    assert data.plan_id == item["price"]["id"]
    assert data.unit_amount == item["price"]["unit_amount"]
    assert data.interval == item["price"]["recurring"]["interval"]
    assert data.quantity == item["quantity"]
    assert data.current_period_end == item["current_period_end"]
    assert data.cancel_at_period_end is True


def test_a_current_api_invoice_names_its_subscription_under_parent(resources):
    assert stripe_subscriptions.invoice_subscription_id(resources["invoice"]) == "subscription"
    assert stripe_subscriptions.invoice_subscription_id({"subscription": "sub_1"}) == "sub_1"


def test_proration_lines_are_found_under_parent_details(resources):
    line = dict(resources["line_item"], amount=-750)
    plain = dict(resources["line_item"], amount=1500, parent=None, proration=False)
    preview = stripe_subscriptions.parse_proration_preview(
        {"lines": {"data": [line, plain]}}, 1_800_000_000
    )
    assert [entry.amount for entry in preview.lines] == [-750]
    assert preview.amount == -750 and not preview.computed_locally


def test_the_stripe_dialect_names_prices_and_proration_behaviour(settings):
    settings.STRIPE_API_DIALECT = "stripe"
    assert stripe_subscriptions._item_params("kilo-teams-month-1500", 3, "si_1") == {
        "items": [{"quantity": 3, "price": "kilo-teams-month-1500", "id": "si_1"}]
    }
    settings.STRIPE_API_DIALECT = "localstripe"
    assert stripe_subscriptions._item_params("kilo-teams-month-1500", 3)["items"][0]["plan"]


def test_prorate_credits_unused_time_and_charges_remaining_time_to_the_second():
    start, end = 1_800_000_000, 1_800_000_000 + 30 * 86_400
    halfway = start + 15 * 86_400
    lines = stripe_subscriptions.prorate(
        period_start=start,
        period_end=end,
        proration_date=halfway,
        old_total=10 * 1500,
        new_total=12 * 1500,
        old_label="10 × Teams",
        new_label="12 × Teams",
    )
    assert [line.amount for line in lines] == [-7500, 9000]
    assert lines[0].description.startswith("Unused time on 10 × Teams after")
    one_second_left = stripe_subscriptions.prorate(
        period_start=start,
        period_end=end,
        proration_date=end - 1,
        old_total=1500,
        new_total=3000,
        old_label="a",
        new_label="b",
    )
    assert sum(line.amount for line in one_second_left) == 0  # rounds to the nearest cent
