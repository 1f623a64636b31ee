"""SSO logins through a real SAML IdP (pysaml2 on loopback, assertions signed with xmlsec1)."""

import pytest

from audit.models import AuditEvent
from organizations.models import Membership, Role
from sso.models import Settings
from tests.sso.conftest import verified_domain
from tests.sso.saml_support import (
    SAML_PROVIDER_ID,
    add_saml_connection,
    register_with_idp,
    saml_login,
    sp_client,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def lovelace_saml(enterprise, saml_idp):
    org, people = enterprise
    connection = add_saml_connection(org, saml_idp, tested=True)
    verified_domain(org)
    register_with_idp(sp_client(), saml_idp)
    return org, people, connection


def test_a_first_saml_login_from_a_verified_domain_joins_as_member_with_a_seat(lovelace_saml):
    org, _, connection = lovelace_saml
    client = sp_client()

    response = saml_login(client, "ada")

    assert response.status_code == 302, response.content[:2000]
    membership = Membership.objects.get(organization=org, user__email="ada@lovelace.test")
    assert membership.role == Role.MEMBER
    assert membership.user.name == "Ada Lovelace"
    assert int(client.session["_auth_user_id"]) == membership.user.pk
    assert AuditEvent.objects.get(action="member.provisioned").after == {
        "role": "member",
        "via": "Lovelace SAML",
    }
    success = AuditEvent.objects.get(action="sso.login_succeeded")
    assert (success.organization_id, success.target_label) == (org.pk, "ada@lovelace.test")
    assert success.after == {"connection": "Lovelace SAML", "protocol": "saml"}


def test_the_groups_attribute_maps_the_admin_group_to_admin(lovelace_saml):
    org, _, _ = lovelace_saml
    Settings.objects.create(organization=org, admin_group="kilo-admins")
    saml_login(sp_client(), "grace")
    assert Membership.objects.get(user__email="grace@lovelace.test").role == Role.ADMIN


def test_a_named_email_attribute_replaces_the_usual_names(lovelace_saml):
    org, _, connection = lovelace_saml
    connection.saml_email_attribute = "urn:oid:2.5.4.4"  # the surname: an owner's mistake
    connection.save()
    client = sp_client()
    response = saml_login(client, "ada")
    # "Lovelace" is no address in a verified domain: the usual email attribute was not used.
    assert response.status_code == 403
    assert "_auth_user_id" not in client.session
    assert not Membership.objects.filter(user__email="ada@lovelace.test").exists()


def test_an_email_outside_the_verified_domains_is_refused_and_audited(lovelace_saml):
    client = sp_client()
    response = saml_login(client, "mallory")
    assert response.status_code == 403
    assert "not in a domain Lovelace Labs has verified" in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert not Membership.objects.filter(user__email="mallory@elsewhere.test").exists()
    event = AuditEvent.objects.get(action="sso.login_refused")
    assert event.after == {"reason": "domain not verified", "domain": "elsewhere.test"}


def test_the_test_login_records_the_attributes_and_keeps_the_owner_signed_in(lovelace_saml):
    org, people, connection = lovelace_saml
    connection.tested_at = None
    connection.save()
    owner = sp_client()
    owner.force_login(people[Role.OWNER])
    assert (
        owner.get(f"/orgs/lovelace/sso/connections/{connection.public_id}/test/").status_code == 200
    )

    response = saml_login(owner, "grace")

    assert response["Location"] == (
        f"/orgs/lovelace/sso/connections/{connection.public_id}/test/result/"
    )
    connection.refresh_from_db()
    assert connection.tested_at is not None
    identity = connection.test_identity
    assert (identity["email"], identity["name"]) == ("grace@lovelace.test", "Grace Hopper")
    assert identity["name_id"] == "grace@lovelace.test"
    assert identity["groups"] == ["kilo-admins"]
    assert identity["attributes"]["urn:oid:0.9.2342.19200300.100.1.3"] == ["grace@lovelace.test"]
    assert int(owner.session["_auth_user_id"]) == people[Role.OWNER].pk
    assert not Membership.objects.filter(user__email="grace@lovelace.test").exists()
    result = owner.get(response["Location"]).content.decode()
    assert "grace@lovelace.test" in result and "Passed" in result


def test_email_first_and_the_direct_link_lead_to_the_saml_connection(lovelace_saml):
    client = sp_client()
    routed = client.post("/sso/", {"email": "ada@lovelace.test"})
    assert routed["Location"] == "/sso/lovelace/"
    page = client.get("/sso/lovelace/").content.decode()
    assert f'action="/accounts/saml/{SAML_PROVIDER_ID}/login/"' in page
    assert "Continue with Lovelace SAML" in page


def test_our_sp_metadata_names_the_acs_and_our_signing_certificate(lovelace_saml):
    _, _, connection = lovelace_saml
    metadata = sp_client().get(f"/accounts/saml/{SAML_PROVIDER_ID}/metadata/").content.decode()
    assert f'entityID="http://localhost/accounts/saml/{SAML_PROVIDER_ID}/metadata/"' in metadata
    assert f'Location="http://localhost/accounts/saml/{SAML_PROVIDER_ID}/acs/"' in metadata
    assert 'AuthnRequestsSigned="true"' in metadata
    assert connection.saml_sp_x509cert in metadata.replace("\n", "")
    assert "PRIVATE KEY" not in metadata
