"""The gateway's parsers accept both localstripe's older shapes and the current API's, taken
from Stripe's official fixtures (tests/data/stripe/fixtures3.json)."""

import json
from pathlib import Path

import pytest

from billing import stripe_gateway as gateway

FIXTURES = Path(__file__).resolve().parents[1] / "data" / "stripe" / "fixtures3.json"


@pytest.fixture(scope="module")
def resources() -> dict:
    return json.loads(FIXTURES.read_text())["resources"]


def test_current_payment_intent(resources):
    pi = gateway.parse_payment_intent(resources["payment_intent"])
    assert pi.id.startswith("pi_") and pi.amount == 1099 and pi.currency == "usd"
    assert pi.latest_charge == ""  # null in the fixture


def test_latest_charge_as_id_or_expanded_object(resources):
    raw = dict(resources["payment_intent"], latest_charge="ch_123")
    assert gateway.parse_payment_intent(raw).latest_charge == "ch_123"
    raw["latest_charge"] = {"id": "ch_456", "object": "charge"}  # localstripe embeds it
    assert gateway.parse_payment_intent(raw).latest_charge == "ch_456"


def test_current_payment_method_card(resources):
    card = gateway.parse_card(resources["payment_method"])
    assert card.brand == "visa" and card.exp_year == 2030 and len(card.last4) == 4


def test_current_invoice_charge_refund_customer_setup_intent(resources):
    invoice = gateway.parse_invoice(resources["invoice"])
    assert invoice.customer.startswith("cus_") and invoice.amount_due == 1000
    charge = gateway.parse_charge(resources["charge"])
    assert charge.amount == 100 and charge.amount_refunded == 0
    refund = gateway.parse_refund(resources["refund"])
    assert refund.status == "succeeded" and refund.charge.startswith("ch_")
    customer = gateway.parse_customer(resources["customer"])
    assert customer.id.startswith("cus_")
    setup = gateway.parse_setup_intent(resources["setup_intent"])
    assert setup.id.startswith("seti_")


def test_payment_intent_parameters_differ_by_dialect_only_where_they_must():
    common = {
        "amount_cents": 100_00,
        "customer_id": "cus_1",
        "payment_method_id": "pm_1",
        "metadata": {},
    }
    current = gateway.payment_intent_params(**common, dialect="stripe")
    old = gateway.payment_intent_params(**common, dialect="localstripe")
    assert current["automatic_payment_methods"] == {"enabled": True, "allow_redirects": "never"}
    assert "payment_method_types" not in current
    assert old["payment_method_types"] == ["card"] and "automatic_payment_methods" not in old
    assert {k: v for k, v in current.items() if k != "automatic_payment_methods"} == {
        k: v for k, v in old.items() if k != "payment_method_types"
    }
