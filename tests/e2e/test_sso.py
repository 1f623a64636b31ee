"""Single Sign-On in the browser, against the real OpenID provider and a DNS server on loopback:
the owner configures OIDC, proves the domain, tests the connection and turns enforcement on; a new
colleague signs in through the IdP and lands in the organization with a seat; password login for
that domain is refused."""

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from organizations.models import Membership, Role
from sso.models import Domain
from tests.conftest import PASSWORD
from tests.sso.conftest import ACCOUNTS, CLIENT_ID, CLIENT_SECRET, start_idp

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


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


@pytest.fixture(autouse=True)
def _eager_tasks():
    from kilo_dashboard.celery import app

    saved = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = saved


def log_in(page: Page, base: str, email: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()


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

    page.get_by_label("Domain", exact=True).fill("lovelace.test")
    page.get_by_role("button", name="Claim domain").click()
    domain = Domain.objects.get(organization=org)
    dns_zone.records[domain.record_name] = [domain.record_value]
    page.get_by_role("button", name="Check now").click()
    expect(page.get_by_text("lovelace.test is verified.")).to_be_visible()

    page.get_by_role("link", name="Test connection").click()
    page.get_by_role("button", name="Continue to Lovelace IdP").click()
    sign_in_at_idp(page, "grace")
    expect(page.get_by_text("Test login through Lovelace IdP succeeded.")).to_be_visible()
    expect(page.get_by_text("grace@lovelace.test")).to_be_visible()
    page.screenshot(path=tmp_path / "sso-test-result.png", full_page=True)

    page.get_by_role("link", name="Back to Single Sign-On").click()
    page.get_by_label("Require SSO for verified domains").check()
    page.get_by_role("button", name="Save SSO settings").click()
    expect(page.get_by_text("Enforced", exact=True)).to_be_visible()
    page.screenshot(path=tmp_path / "sso-tab.png", full_page=True)

    # A new colleague: email first, then the IdP, then the organization.
    colleague = new_page(1366)
    colleague.goto(f"{base}/accounts/login/")
    colleague.get_by_role("link", name="Continue with SSO").click()
    colleague.get_by_label("Work email").fill("ada@lovelace.test")
    colleague.get_by_role("button", name="Continue").click()
    colleague.get_by_role("button", name="Continue with Lovelace IdP").click()
    sign_in_at_idp(colleague, "ada")
    expect(colleague).to_have_url(f"{base}/orgs/lovelace/organization/")
    assert Membership.objects.get(organization=org, user__email="ada@lovelace.test").role == (
        Role.MEMBER
    )

    # Password login for that domain is refused, naming the organization.
    member = new_page(1366)
    log_in(member, base, "member@lovelace.test")
    expect(
        member.get_by_text("Lovelace Labs requires signing in with Single Sign-On")
    ).to_be_visible()
