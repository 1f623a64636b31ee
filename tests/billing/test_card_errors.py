"""Card details the fake Stripe.js sends are refused in Stripe's words, never "Bad request".

Through the same request localstripe's Stripe.js makes for confirmCardSetup() (the card form).
Expected messages are Stripe's documented card_error messages.
"""

import pytest
import requests
from django.conf import settings

from billing import services
from tests.conftest import actor

pytestmark = pytest.mark.django_db


def _confirm(org, owner, **card) -> requests.Response:
    intent = services.card_setup_start(actor=actor(owner), organization=org)
    typed = {"number": "4242424242424242", "exp_month": "12", "exp_year": "30", "cvc": "123"}
    return requests.post(
        f"{settings.STRIPE_API_BASE}/v1/setup_intents/{intent.id}/confirm",
        json={
            "key": settings.STRIPE_PUBLISHABLE_KEY,
            "client_secret": intent.client_secret,
            "payment_method_data": {"type": "card", "card": typed | card},
        },
        timeout=10,
    )


@pytest.mark.parametrize(
    ("card", "code", "message"),
    [
        # "2030" typed into the old fake field, which prefixed "20": the "Bad request".
        ({"exp_year": "202030"}, "invalid_expiry_year", "Your card's expiration year is invalid."),
        (
            {"exp_year": "2019"},
            "invalid_expiry_year",
            "Your card's expiration year is in the past.",
        ),
        ({"exp_month": "13"}, "invalid_expiry_month", "Your card's expiration month is invalid."),
        ({"number": "4242"}, "invalid_number", "Your card number is invalid."),
        ({"cvc": "12"}, "invalid_cvc", "Your card's security code is invalid."),
    ],
)
def test_bad_card_details_get_stripes_message(org, owner, card, code, message):
    response = _confirm(org, owner, **card)

    assert response.status_code == 402
    error = response.json()["error"]
    assert (error["type"], error["code"], error["message"]) == ("card_error", code, message)


@pytest.mark.parametrize("year", ["30", "2030"])
def test_a_two_or_four_digit_year_is_accepted(org, owner, year):
    response = _confirm(org, owner, exp_year=year)

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "succeeded"
