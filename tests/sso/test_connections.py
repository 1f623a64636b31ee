"""Configuring a connection: the IdP's discovery document is read before saving, secrets are
encrypted at rest and rotated with the keys."""

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.test import Client

from audit.models import AuditEvent
from organizations.models import Role
from sso import crypto
from sso.models import Connection
from tests.sso.conftest import CLIENT_SECRET

pytestmark = pytest.mark.django_db


def owner_client(people) -> Client:  # noqa: ANN001
    client = Client()
    client.force_login(people[Role.OWNER])
    return client


def form(issuer: str, **extra: str) -> dict:
    return {
        "name": "Lovelace IdP",
        "issuer_url": issuer,
        "client_id": "kilo-dashboard",
        "client_secret": CLIENT_SECRET,
        "scopes": "openid email profile",
        **extra,
    }


def test_an_owner_adds_a_connection_after_its_discovery_document_checks_out(enterprise, idp):
    org, people = enterprise
    response = owner_client(people).post("/orgs/lovelace/sso/connections/new/", form(idp.issuer))
    assert response.status_code == 302
    connection = Connection.objects.get(organization=org)
    assert connection.client_secret_encrypted != CLIENT_SECRET
    assert crypto.decrypt(connection.client_secret_encrypted) == CLIENT_SECRET
    assert connection.client_secret_last4 == "cdef" and connection.tested_at is None
    event = AuditEvent.objects.get(action="sso.connection_created")
    assert event.after["client_secret"] == "…cdef"
    assert CLIENT_SECRET not in str(event.after)


@pytest.mark.parametrize(
    ("issuer", "message"),
    [
        ("http://127.0.0.1:9/", "could not be read"),  # nothing listens on the discard port
        (None, "names the issuer"),  # the real IdP, reached under another name
    ],
)
def test_a_wrong_issuer_is_refused_with_the_reason(enterprise, idp, issuer, message):
    org, people = enterprise
    issuer = issuer or idp.issuer.replace("127.0.0.1", "localhost")
    response = owner_client(people).post("/orgs/lovelace/sso/connections/new/", form(issuer))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Connection.objects.exists()


def test_scopes_without_openid_are_refused(enterprise, idp):
    org, people = enterprise
    response = owner_client(people).post(
        "/orgs/lovelace/sso/connections/new/", form(idp.issuer, scopes="email profile")
    )
    assert "The scopes must include &quot;openid&quot;." in response.content.decode()


def test_editing_without_a_secret_keeps_it_and_a_new_issuer_needs_a_new_test(enterprise, idp):
    from tests.sso.conftest import add_connection

    org, people = enterprise
    connection = add_connection(org, idp.issuer, tested=True)
    owner_client(people).post(
        f"/orgs/lovelace/sso/connections/{connection.public_id}/",
        form(idp.issuer, name="Renamed", client_secret=""),
    )
    connection.refresh_from_db()
    assert connection.name == "Renamed" and connection.tested_at is not None
    assert crypto.decrypt(connection.client_secret_encrypted) == CLIENT_SECRET
    owner_client(people).post(
        f"/orgs/lovelace/sso/connections/{connection.public_id}/",
        form(idp.issuer, client_secret="a-new-secret-1234"),
    )
    connection.refresh_from_db()
    assert connection.tested_at is None and connection.client_secret_last4 == "1234"


def test_rotating_keys_re_encrypts_every_secret(enterprise, idp, settings):
    from tests.sso.conftest import add_connection

    org, _ = enterprise
    connection = add_connection(org, idp.issuer)
    old_key = settings.SSO_ENCRYPTION_KEYS[0]
    new_key = Fernet.generate_key().decode()
    settings.SSO_ENCRYPTION_KEYS = [new_key, old_key]
    call_command("sso_rotate_keys")
    settings.SSO_ENCRYPTION_KEYS = [new_key]  # the old key is dropped
    connection.refresh_from_db()
    assert crypto.decrypt(connection.client_secret_encrypted) == CLIENT_SECRET
    settings.SSO_ENCRYPTION_KEYS = [old_key]
    with pytest.raises(crypto.SecretUnreadable):
        crypto.decrypt(connection.client_secret_encrypted)
