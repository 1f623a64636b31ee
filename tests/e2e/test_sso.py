"""Single Sign-On in the browser, against the real OpenID provider and a DNS server on loopback:
the owner configures OIDC, proves the domain, tests the connection and turns enforcement on; a new
colleague signs in through the IdP and lands in the organization with a seat; password login for
that domain is refused."""

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.steps import enforce_sso_and_join, log_in, prove_domain
from tests.sso.conftest import ACCOUNTS, CLIENT_ID, CLIENT_SECRET, start_idp

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("eager_tasks"),
]


@pytest.fixture
def browser_idp(live_server):
    prefix = f"{live_server.url}/accounts/oidc/"
    # The client needs one registered URI; the prefix admits the connection's real callback.
    process, issuer = start_idp([f"{prefix}registered/"], ACCOUNTS, redirect_uri_prefix=prefix)
    try:
        yield issuer
    finally:
        process.terminate()
        process.wait(timeout=10)


def sign_in_at_idp(page: Page, account: str) -> None:
    page.locator("input[name=login]").fill(account)
    page.locator("input[name=password]").fill("any")
    page.locator("button[type=submit]").first.click()
    page.get_by_role("button", name="Continue").click()  # the IdP's consent step


def test_owner_sets_up_sso_and_a_colleague_joins_through_the_idp(
    live_server, enterprise, browser_idp, dns_zone, new_page, tmp_path: Path
):
    org, people = enterprise
    base = live_server.url
    page = new_page(1366)
    log_in(page, base, "owner@lovelace.test")
    page.goto(f"{base}/orgs/lovelace/sso/")

    page.get_by_role("link", name="Add OpenID Connect provider").click()
    page.get_by_label("Name").fill("Lovelace IdP")
    page.get_by_label("Issuer URL").fill(browser_idp)
    page.get_by_label("Client ID").fill(CLIENT_ID)
    page.get_by_label("Client secret").fill(CLIENT_SECRET)
    page.get_by_label("Scopes").fill("openid email profile groups")
    page.get_by_role("button", name="Save connection").click()
    expect(page.get_by_text("Not tested")).to_be_visible()

    prove_domain(page, dns_zone, org, "lovelace.test")
    enforce_sso_and_join(page, new_page, base, org, "Lovelace IdP", sign_in_at_idp)
    page.screenshot(path=tmp_path / "sso-tab.png", full_page=True)
