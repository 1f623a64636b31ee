"""Single Sign-On through SAML in the browser, against the real pysaml2 IdP and a DNS server on
loopback: the owner adds the IdP by its metadata URL, gives the IdP our SP metadata URL from the
tab, proves the domain, tests the connection and turns enforcement on; a new colleague signs in
through the IdP and lands in the organization with a seat; password login for that domain is
refused."""

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from organizations.models import Membership, Role
from sso.models import Connection, Domain
from tests.e2e.test_sso import log_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _eager_tasks():
    from kilo_dashboard.celery import app

    saved = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = saved


def sign_in_at_idp(page: Page, account: str) -> None:
    """The IdP's own login form; its answer posts itself to our ACS (HTTP-POST binding)."""
    page.get_by_label("Username").fill(account)
    page.get_by_label("Password").fill("any")
    page.get_by_role("button", name="Sign in").click()


def test_owner_sets_up_saml_and_a_colleague_joins_through_the_idp(
    live_server, enterprise, saml_idp, dns_zone, new_page, tmp_path: Path
):
    org, _ = enterprise
    base = live_server.url
    page = new_page(1366)
    log_in(page, base, "owner@lovelace.test")
    page.goto(f"{base}/orgs/lovelace/sso/")

    page.get_by_role("link", name="Add SAML provider").click()
    page.get_by_label("Name", exact=True).fill("Lovelace SAML")
    page.get_by_label("IdP metadata URL").fill(saml_idp.metadata_url)
    page.get_by_role("button", name="Save connection").click()
    expect(page.get_by_text("Not tested")).to_be_visible()

    # At the IdP's console, its administrator enters our SP metadata URL from the tab.
    sp_metadata_url = page.get_by_label("SP metadata URL").input_value()
    connection = Connection.objects.get(organization=org)
    assert sp_metadata_url == f"{base}/accounts/saml/{connection.provider_id}/metadata/"
    saml_idp.register_sp(url=sp_metadata_url)

    page.get_by_label("Domain", exact=True).fill("lovelace.test")
    page.get_by_role("button", name="Claim domain").click()
    domain = Domain.objects.get(organization=org)
    dns_zone.records[domain.record_name] = [domain.record_value]
    page.get_by_role("button", name="Check now").click()
    expect(page.get_by_text("lovelace.test is verified.")).to_be_visible()

    page.get_by_role("link", name="Test connection").click()
    page.get_by_role("button", name="Continue to Lovelace SAML").click()
    sign_in_at_idp(page, "grace")
    expect(page.get_by_text("Test login through Lovelace SAML succeeded.")).to_be_visible()
    expect(page.get_by_text("grace@lovelace.test").first).to_be_visible()

    page.get_by_role("link", name="Back to Single Sign-On").click()
    page.get_by_label("Require SSO for verified domains").check()
    page.get_by_role("button", name="Save SSO settings").click()
    expect(page.get_by_text("Enforced", exact=True)).to_be_visible()
    page.screenshot(path=tmp_path / "sso-saml-tab.png", full_page=True)

    colleague = new_page(1366)
    colleague.goto(f"{base}/accounts/login/")
    colleague.get_by_role("link", name="Continue with SSO").click()
    colleague.get_by_label("Work email").fill("ada@lovelace.test")
    colleague.get_by_role("button", name="Continue").click()
    colleague.get_by_role("button", name="Continue with Lovelace SAML").click()
    sign_in_at_idp(colleague, "ada")
    expect(colleague).to_have_url(f"{base}/orgs/lovelace/organization/")
    assert Membership.objects.get(organization=org, user__email="ada@lovelace.test").role == (
        Role.MEMBER
    )

    member = new_page(1366)
    log_in(member, base, "member@lovelace.test")
    expect(
        member.get_by_text("Lovelace Labs requires signing in with Single Sign-On")
    ).to_be_visible()
