"""Steps the browser tests share."""

from playwright.sync_api import Page, expect

from tests.conftest import PASSWORD


def log_in(page: Page, base_url: str, email: str) -> None:
    """Sign in with the test password through allauth's own form."""
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()


def prove_domain(page: Page, dns_zone, organization, domain: str) -> None:  # noqa: ANN001
    """On the SSO tab: claim the domain, publish its TXT record on the loopback DNS, check."""
    from sso.models import Domain

    page.get_by_label("Domain", exact=True).fill(domain)
    page.get_by_role("button", name="Claim domain").click()
    claimed = Domain.objects.get(organization=organization, name=domain)
    dns_zone.records[claimed.record_name] = [claimed.record_value]
    page.get_by_role("button", name="Check now").click()
    expect(page.get_by_text(f"{domain} is verified.")).to_be_visible()


def enforce_sso_and_join(
    page: Page,
    new_page,  # noqa: ANN001
    base_url: str,
    organization,  # noqa: ANN001
    idp_name: str,
    sign_in_at_idp,  # noqa: ANN001
) -> None:
    """From the SSO tab: a test login at the IdP, enforcement on; then a new colleague signs in
    email first through the IdP and lands in the organization as a member, and password login
    for the domain is refused, naming the organization."""
    from organizations.models import Membership, Role

    page.get_by_role("link", name="Test connection").click()
    page.get_by_role("button", name=f"Continue to {idp_name}").click()
    sign_in_at_idp(page, "grace")
    expect(page.get_by_text(f"Test login through {idp_name} succeeded.")).to_be_visible()
    expect(page.get_by_text("grace@lovelace.test").first).to_be_visible()

    page.get_by_role("link", name="Back to Single Sign-On").click()
    page.get_by_label("Require SSO for verified domains").check()
    page.get_by_role("button", name="Save SSO settings").click()
    expect(page.get_by_text("Enforced", exact=True)).to_be_visible()

    colleague = new_page(1366)
    colleague.goto(f"{base_url}/accounts/login/")
    colleague.get_by_role("link", name="Continue with SSO").click()
    colleague.get_by_label("Work email").fill("ada@lovelace.test")
    colleague.get_by_role("button", name="Continue").click()
    colleague.get_by_role("button", name=f"Continue with {idp_name}").click()
    sign_in_at_idp(colleague, "ada")
    expect(colleague).to_have_url(f"{base_url}/orgs/{organization.slug}/organization/")
    joined = Membership.objects.get(organization=organization, user__email="ada@lovelace.test")
    assert joined.role == Role.MEMBER

    member = new_page(1366)
    log_in(member, base_url, "member@lovelace.test")
    expect(
        member.get_by_text(f"{organization.name} requires signing in with Single Sign-On")
    ).to_be_visible()
