"""The card form in the browser: a four-digit year works, and a bad detail gets a real sentence."""

import pytest
from playwright.sync_api import Page, expect

from billing.models import PaymentMethod
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _card_form(page: Page, base: str, org, owner) -> None:  # noqa: ANN001
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Email", exact=True).fill(owner.email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    page.goto(f"{base}/orgs/{org.slug}/billing/cards/new/")


def _type_card(page: Page, month: str, year: str) -> None:
    card = page.locator("#card-element")
    card.get_by_placeholder("number").press_sequentially("4242424242424242")
    card.get_by_placeholder("exp_month").fill(month)
    card.get_by_placeholder("exp_year").press_sequentially(year)  # key by key, as a person
    card.get_by_placeholder("cvc").fill("123")
    card.get_by_placeholder("postal_code").fill("10115")
    page.get_by_role("button", name="Save card").click()


def test_a_card_with_the_year_typed_as_2030_is_saved(live_server, org, owner, new_page):
    page = new_page()
    _card_form(page, live_server.url, org, owner)

    _type_card(page, "12", "2030")

    expect(page.get_by_text("Card Visa ···· 4242 added.")).to_be_visible()
    assert PaymentMethod.objects.get(organization=org).exp_year == 2030


def test_an_invalid_month_is_explained_not_bad_request(live_server, org, owner, new_page):
    page = new_page()
    _card_form(page, live_server.url, org, owner)

    _type_card(page, "13", "30")

    expect(page.locator("#card-errors")).to_have_text("Your card's expiration month is invalid.")
    assert not PaymentMethod.objects.filter(organization=org).exists()
