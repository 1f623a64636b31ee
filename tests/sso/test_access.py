"""The SSO URLs on an Enterprise organization: owners act, admins read the tab, members get 403,
outsiders 404 - with the organization's real connection and domain in every URL."""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from organizations.models import Membership, Role
from sso.models import Domain
from tests.conftest import make_user
from tests.sso.conftest import add_connection

pytestmark = pytest.mark.django_db

PAGES = [
    "sso_tab",
    "sso_connection_create",
    "sso_connection_edit",
    "sso_connection_delete",
    "sso_connection_test",
    "sso_connection_test_result",
]
POSTS = ["sso_domain_check", "sso_domain_remove", "sso_enforcement", "sso_connection_delete"]


@pytest.fixture
def world(enterprise):
    org, people = enterprise
    connection = add_connection(org, "https://idp.lovelace.test")
    domain = Domain.objects.create(
        organization=org,
        name="lovelace.test",
        verification_token="t",
        expires_at=timezone.now() + timedelta(days=7),
    )
    outsider = make_user("boss@initech.test")
    from tests.conftest import make_org

    Membership.objects.create(
        organization=make_org("initech", "Initech"), user=outsider, role="owner"
    )
    return org, {**people, "outsider": outsider}, connection, domain


def _url(name: str, org, connection, domain) -> str:
    kwargs = {"org_slug": org.slug}
    if "connection_" in name and name != "sso_connection_create":
        kwargs["connection_id"] = connection.public_id
    if "domain_" in name and name != "sso_domain_claim":
        kwargs["domain_id"] = domain.public_id
    return reverse(name, kwargs=kwargs)


def _client(user) -> Client:  # noqa: ANN001
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("name", PAGES)
@pytest.mark.parametrize(
    ("persona", "expected"),
    [(Role.OWNER, 200), (Role.ADMIN, 403), (Role.MEMBER, 403), ("outsider", 404)],
)
def test_pages(world, name, persona, expected):
    org, people, connection, domain = world
    if name == "sso_tab" and persona == Role.ADMIN:
        expected = 200  # admins read the settings
    response = _client(people[persona]).get(_url(name, org, connection, domain))
    assert response.status_code == expected


@pytest.mark.parametrize("name", POSTS)
@pytest.mark.parametrize(
    ("persona", "expected"), [(Role.ADMIN, 403), (Role.MEMBER, 403), ("outsider", 404)]
)
def test_writes_refused_to_everyone_but_owners_change_nothing(world, name, persona, expected):
    org, people, connection, domain = world
    before = AuditEvent.objects.count()
    response = _client(people[persona]).post(
        _url(name, org, connection, domain), {"confirm_name": connection.name, "enforced": "on"}
    )
    assert response.status_code == expected
    assert AuditEvent.objects.count() == before
    assert Domain.objects.filter(pk=domain.pk).exists()


def test_the_tab_shows_what_the_idp_needs_and_never_the_secret(world):
    org, people, connection, _ = world
    page = _client(people[Role.OWNER]).get(f"/orgs/{org.slug}/sso/").content.decode()
    assert (
        f"http://testserver/accounts/oidc/kilo-{connection.public_id.hex}/login/callback/" in page
    )
    assert "_kilo-verification.lovelace.test" in page and "kilo-verification=t" in page
    assert "http://testserver/sso/lovelace/" in page
    assert "idp-client-secret" not in page and "…cdef" in page
    edit = _client(people[Role.OWNER]).get(
        f"/orgs/{org.slug}/sso/connections/{connection.public_id}/"
    )
    assert "idp-client-secret" not in edit.content.decode()


def test_teams_organizations_see_an_upgrade_panel(owner, org):
    page = _client(owner).get(f"/orgs/{org.slug}/sso/")
    assert page.status_code == 200
    assert "SSO comes with Enterprise" in page.content.decode()


@pytest.mark.parametrize(
    "name",
    ["sso_saml_connection_create", "sso_saml_connection_edit", "sso_saml_sp_certificate_replace"],
)
@pytest.mark.parametrize(
    ("persona", "expected"),
    [(Role.OWNER, 200), (Role.ADMIN, 403), (Role.MEMBER, 403), ("outsider", 404)],
)
def test_saml_pages(world, tmp_path, name, persona, expected):
    from tests.idp.saml.keys import make_keypair
    from tests.sso.saml_support import SamlIdP, add_saml_connection

    org, people, _, _ = world
    idp = SamlIdP(  # no IdP is contacted: a connection entered by hand
        entity_id="https://idp.lovelace.test/metadata",
        metadata_url="https://idp.lovelace.test/metadata",
        sso_url="https://idp.lovelace.test/sso",
        keys=make_keypair(tmp_path, "idp"),
    )
    connection = add_saml_connection(org, idp)
    kwargs = {"org_slug": org.slug}
    if name != "sso_saml_connection_create":
        kwargs["connection_id"] = connection.public_id
    client = _client(people[persona])
    assert client.get(reverse(name, kwargs=kwargs)).status_code == expected
    if name == "sso_saml_sp_certificate_replace" and persona == Role.OWNER:
        return  # the owner's POST replaces it: tests/sso/test_saml_sp_certificate.py
    before = AuditEvent.objects.count()
    posted = client.post(reverse(name, kwargs=kwargs), {"name": "Changed"})
    assert posted.status_code == (200 if persona == Role.OWNER else expected)
    assert AuditEvent.objects.count() == before  # the owner's empty form changes nothing
    connection.refresh_from_db()
    assert connection.name == "Lovelace SAML"
