"""Replacing our (SP) signing certificate of a SAML connection: a new key pair, the old key gone,
audited by fingerprints, and a new test needed; against the real IdP, sign-ins are refused until
the IdP is given our new SP metadata."""

import base64
import hashlib

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from django.test import Client

from audit.models import AuditEvent
from organizations.models import Membership, Role
from sso import crypto
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


def replace_url(connection) -> str:  # noqa: ANN001
    return f"/orgs/lovelace/sso/connections/{connection.public_id}/saml/sp-certificate/"


def sha256_fingerprint(cert_body: str) -> str:
    digest = hashlib.sha256(base64.b64decode(cert_body)).hexdigest().upper()
    return ":".join(digest[i : i + 2] for i in range(0, 64, 2))


def owner_client(people) -> Client:  # noqa: ANN001
    client = sp_client()
    client.force_login(people[Role.OWNER])
    return client


def test_the_confirmation_page_explains_the_effect_and_changes_nothing(enterprise, saml_idp):
    org, people = enterprise
    connection = add_saml_connection(org, saml_idp, tested=True)

    page = owner_client(people).get(replace_url(connection)).content.decode()

    assert "Replace our signing certificate for Lovelace SAML?" in page
    assert sha256_fingerprint(connection.saml_sp_x509cert) in page
    assert "Your IdP must be given the new SP metadata" in page
    assert (
        "every sign-in (and single logout) request we send to Lovelace SAML is signed with" in page
    )
    assert "people who are signed in stay signed in" in page
    assert f"http://localhost/accounts/saml/{SAML_PROVIDER_ID}/metadata/" in page
    connection.refresh_from_db()
    assert connection.tested_at is not None
    assert not AuditEvent.objects.filter(action="sso.sp_certificate_replaced").exists()


def test_replacing_makes_a_new_key_pair_needs_a_new_test_and_is_audited(enterprise, saml_idp):
    org, people = enterprise
    connection = add_saml_connection(org, saml_idp, tested=True)
    old_cert, old_key = connection.saml_sp_x509cert, connection.saml_sp_private_key_encrypted
    old_private = crypto.decrypt(old_key)
    owner = owner_client(people)

    response = owner.post(replace_url(connection))

    assert response.status_code == 302
    connection.refresh_from_db()
    assert connection.saml_sp_x509cert != old_cert
    assert connection.tested_at is None and connection.test_identity == {}
    new_private = crypto.decrypt(connection.saml_sp_private_key_encrypted)
    assert new_private != old_private and "PRIVATE KEY" not in (
        connection.saml_sp_private_key_encrypted
    )
    # The new certificate is the new private key's.
    key = serialization.load_pem_private_key(new_private.encode(), password=None)
    cert = x509.load_der_x509_certificate(base64.b64decode(connection.saml_sp_x509cert))
    assert cert.public_key().public_numbers() == key.public_key().public_numbers()

    event = AuditEvent.objects.get(action="sso.sp_certificate_replaced")
    assert event.before == {"sp_certificate": sha256_fingerprint(old_cert), "tested": True}
    assert event.after == {
        "sp_certificate": sha256_fingerprint(connection.saml_sp_x509cert),
        "valid_until": cert.not_valid_after_utc.date().isoformat(),
        "tested": False,
    }
    assert "PRIVATE" not in str(event.before) + str(event.after)
    assert event.target_label == "Lovelace SAML"

    metadata = sp_client().get(f"/accounts/saml/{SAML_PROVIDER_ID}/metadata/").content.decode()
    flat = metadata.replace("\n", "")
    assert connection.saml_sp_x509cert in flat and old_cert not in flat
    tab = owner.get("/orgs/lovelace/sso/").content.decode()
    assert "Not tested" in tab


def test_the_only_tested_connection_of_an_enforcing_org_keeps_its_certificate(enterprise, saml_idp):
    org, people = enterprise
    connection = add_saml_connection(org, saml_idp, tested=True)
    verified_domain(org)
    Settings.objects.create(organization=org, enforced=True)
    owner = owner_client(people)
    page = owner.get(replace_url(connection)).content.decode()
    assert "SSO is enforced and this is its only tested connection" in page

    response = owner.post(replace_url(connection), follow=True)

    assert "before replacing its certificate" in response.content.decode()
    connection.refresh_from_db()
    assert connection.tested_at is not None
    assert not AuditEvent.objects.filter(action="sso.sp_certificate_replaced").exists()


def test_an_idp_that_checks_request_signatures_needs_our_new_metadata(enterprise, saml_idp_factory):
    org, people = enterprise
    idp = saml_idp_factory(want_authn_requests_signed=True)
    connection = add_saml_connection(org, idp, tested=True)
    verified_domain(org)
    register_with_idp(sp_client(), idp)
    assert saml_login(sp_client(), "ada").status_code == 302  # signed with the first key

    assert owner_client(people).post(replace_url(connection)).status_code == 302

    client = sp_client()
    start = client.post(f"/accounts/saml/{SAML_PROVIDER_ID}/login/", {"process": "login"})
    refused = requests.get(start["Location"], timeout=10)
    assert refused.status_code == 400
    assert "not signed correctly" in refused.text

    register_with_idp(sp_client(), idp)  # the IdP's administrator loads our new metadata
    again = sp_client()
    assert saml_login(again, "ada").status_code == 302
    ada = Membership.objects.get(organization=org, user__email="ada@lovelace.test").user
    assert int(again.session["_auth_user_id"]) == ada.pk


def test_an_openid_connect_connection_has_no_certificate_to_replace(enterprise):
    from tests.sso.conftest import add_connection

    org, people = enterprise
    connection = add_connection(org, "https://idp.lovelace.test")
    owner = owner_client(people)
    assert owner.get(replace_url(connection)).status_code == 404
    assert owner.post(replace_url(connection)).status_code == 404
