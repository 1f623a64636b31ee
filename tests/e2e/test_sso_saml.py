"""Single Sign-On through SAML in the browser, against the real pysaml2 IdP and a DNS server on
loopback: the owner adds the IdP by its metadata URL, gives the IdP our SP metadata URL from the
tab, proves the domain, tests the connection and turns enforcement on; a new colleague signs in
through the IdP and lands in the organization with a seat; password login for that domain is
refused. Also: the SAML form shows the fields of the chosen way to describe the IdP only, and an
owner replaces our signing certificate from the tab.

Screenshots go to $SSO_SCREENSHOTS when it is set (to look at them), else to the test's tmp dir."""

import os
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from sso.models import Connection
from tests.e2e.steps import enforce_sso_and_join, log_in, prove_domain
from tests.sso.conftest import add_connection, verified_domain
from tests.sso.saml_support import add_saml_connection

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("eager_tasks"),
]


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

    prove_domain(page, dns_zone, org, "lovelace.test")
    enforce_sso_and_join(page, new_page, base, org, "Lovelace SAML", sign_in_at_idp)
    page.screenshot(path=tmp_path / "sso-saml-tab.png", full_page=True)


def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("SSO_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.mark.parametrize("width", [1366, 390])
def test_the_saml_form_shows_the_fields_of_the_chosen_way_only(
    live_server, enterprise, saml_idp, new_page, tmp_path: Path, width: int
):
    base, out = live_server.url, shots(tmp_path)
    page = new_page(width)
    log_in(page, base, "owner@lovelace.test")
    page.goto(f"{base}/orgs/lovelace/sso/connections/new/saml/")
    url = page.get_by_label("IdP metadata URL")
    xml = page.get_by_label("IdP metadata XML")
    by_hand = [
        page.get_by_label("IdP entity ID (issuer)"),
        page.get_by_label("IdP signing certificate (PEM)"),
    ]

    expect(page.get_by_role("radio", name="Its metadata URL (recommended)")).to_be_checked()
    expect(url).to_be_visible()
    for hidden in (xml, *by_hand):
        expect(hidden).to_be_hidden()
    page.screenshot(path=out / f"saml-form-url-{width}.png", full_page=True)

    page.get_by_role("radio", name="Paste its metadata XML").check()
    expect(xml).to_be_visible()
    for hidden in (url, *by_hand):
        expect(hidden).to_be_hidden()
    page.screenshot(path=out / f"saml-form-xml-{width}.png", full_page=True)

    page.get_by_role("radio", name="Enter the entity ID, SSO URL and certificate by hand").check()
    for shown in by_hand:
        expect(shown).to_be_visible()
    expect(url).to_be_hidden()
    expect(xml).to_be_hidden()
    page.screenshot(path=out / f"saml-form-manual-{width}.png", full_page=True)

    # Saved incomplete: the error is at the missing field, the choice and the input are kept.
    page.get_by_label("Name", exact=True).fill("Lovelace SAML")
    by_hand[0].fill(saml_idp.entity_id)
    page.get_by_role("button", name="Save connection").click()
    expect(page.get_by_text("Enter the IdP's single sign-on URL.")).to_be_visible()
    expect(by_hand[0]).to_have_value(saml_idp.entity_id)
    expect(url).to_be_hidden()
    page.screenshot(path=out / f"saml-form-error-{width}.png", full_page=True)
    assert not Connection.objects.exists()


@pytest.mark.parametrize("width", [1366, 390])
def test_an_owner_replaces_our_signing_certificate_from_the_tab(
    live_server, enterprise, saml_idp, new_page, tmp_path: Path, width: int
):
    org, _ = enterprise
    base, out = live_server.url, shots(tmp_path)
    connection = add_saml_connection(org, saml_idp, tested=True, slo_url=saml_idp.slo_url)
    add_connection(org, "https://idp.lovelace.test", tested=True)
    verified_domain(org)
    old_certificate = connection.saml_sp_x509cert
    page = new_page(width)
    log_in(page, base, "owner@lovelace.test")
    page.goto(f"{base}/orgs/lovelace/sso/")
    page.screenshot(path=out / f"sso-tab-{width}.png", full_page=True)

    page.get_by_role("link", name="Replace our signing certificate").click()
    expect(page.get_by_text("Your IdP must be given the new SP metadata")).to_be_visible()
    page.screenshot(path=out / f"sso-replace-certificate-{width}.png", full_page=True)
    page.get_by_role("button", name="Replace certificate").click()

    expect(page.get_by_text("Lovelace SAML has a new signing certificate")).to_be_visible()
    expect(page.get_by_text("Not tested")).to_be_visible()
    page.screenshot(path=out / f"sso-tab-after-replace-{width}.png", full_page=True)
    connection.refresh_from_db()
    assert connection.saml_sp_x509cert != old_certificate and connection.tested_at is None
