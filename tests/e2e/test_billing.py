"""In the browser, the owner adds a card through (localstripe's fake) Stripe.js, buys $100 of
credits, and sees the balance and the receipt once localstripe's webhook has arrived."""

import pytest
from playwright.sync_api import expect

from tests.billing.localstripe import deliver_webhooks_to  # noqa: F401 - fixture
from tests.e2e.steps import log_in

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("eager_tasks"),
]


@pytest.mark.usefixtures("deliver_webhooks_to")
def test_owner_adds_a_card_buys_100_dollars_and_sees_balance_and_receipt(
    live_server, org, owner, new_page
):
    base = live_server.url
    page = new_page()
    log_in(page, base, owner.email)
    page.goto(f"{base}/orgs/{org.slug}/organization/")
    page.get_by_role("link", name="Buy Credits").click()
    expect(page.get_by_role("heading", name="Billing", exact=True)).to_be_visible()

    page.get_by_role("link", name="Add card").first.click()
    card = page.locator("#card-element")
    card.get_by_placeholder("number").fill("4242424242424242")
    card.get_by_placeholder("exp_month").fill("12")
    card.get_by_placeholder("exp_year").fill("30")
    card.get_by_placeholder("cvc").fill("123")
    card.get_by_placeholder("postal_code").fill("10115")
    page.get_by_role("button", name="Save card").click()
    expect(page.get_by_text("Card Visa ···· 4242 added.")).to_be_visible()

    page.locator("label.preset", has_text="$100").click()
    page.get_by_role("button", name="Review purchase").click()
    expect(page.get_by_role("heading", name="Buy $100.00 of credits?")).to_be_visible()
    page.get_by_role("button", name="Pay $100.00").click()
    expect(page.get_by_text("Payment of $100.00 received.")).to_be_visible()

    balance = page.get_by_test_id("balance")
    receipt = page.locator("#payments").get_by_role("link", name="Receipt")
    for _ in range(60):  # localstripe waits a second before delivering; the PDF follows
        if balance.inner_text() == "$100.00" and receipt.count():
            break
        page.wait_for_timeout(250)
        page.reload()
    expect(balance).to_have_text("$100.00")
    expect(receipt).to_be_visible()
    with page.expect_download() as download:
        receipt.click()
    assert download.value.suggested_filename == "ACME-R00001.pdf"
