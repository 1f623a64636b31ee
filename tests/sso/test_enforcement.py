"""Enforcement: password sign-in, password reset and older sessions for SSO-enforced domains."""

import pytest
from django.core import mail
from django.test import Client

from audit.models import AuditEvent
from organizations.models import Role
from sso import services
from sso.models import Settings
from tests.conftest import PASSWORD, actor
from tests.sso.conftest import add_connection, verified_domain

pytestmark = pytest.mark.django_db


def enforce(org, owner) -> None:
    services.enforcement_set(actor=actor(owner), organization=org, enforced=True)


def password_login(client: Client, email: str):  # noqa: ANN201
    return client.post("/accounts/login/", {"login": email, "password": PASSWORD})


def test_enforcement_needs_a_tested_connection_and_a_verified_domain(enterprise):
    org, people = enterprise
    owner = people[Role.OWNER]
    connection = add_connection(org, "https://idp.lovelace.test")
    with pytest.raises(services.SSOError, match="Test a connection"):
        enforce(org, owner)
    connection.tested_at = connection.created_at
    connection.save()
    with pytest.raises(services.SSOError, match="Verify at least one domain"):
        enforce(org, owner)
    verified_domain(org)
    enforce(org, owner)
    assert Settings.objects.get(organization=org).enforced
    event = AuditEvent.objects.get(action="sso.enforcement_changed")
    assert event.before["enforced"] is False and event.after["enforced"] is True


def test_password_login_and_reset_are_refused_for_members_of_an_enforcing_domain(enterprise):
    org, people = enterprise
    add_connection(org, "https://idp.lovelace.test", tested=True)
    verified_domain(org)
    assert password_login(Client(), "member@lovelace.test").status_code == 302  # before
    enforce(org, people[Role.OWNER])

    response = password_login(Client(), "member@lovelace.test")
    assert response.status_code == 200
    assert "Lovelace Labs requires signing in with Single Sign-On" in response.content.decode()

    reset = Client().post("/accounts/password/reset/", {"email": "member@lovelace.test"})
    assert "requires signing in with Single Sign-On" in reset.content.decode()
    assert mail.outbox == []


def test_owners_keep_password_login_as_their_recovery_path(enterprise):
    org, people = enterprise
    add_connection(org, "https://idp.lovelace.test", tested=True)
    verified_domain(org)
    enforce(org, people[Role.OWNER])
    assert password_login(Client(), "owner@lovelace.test").status_code == 302


def test_addresses_outside_the_verified_domains_are_not_affected(enterprise, member):
    org, people = enterprise
    add_connection(org, "https://idp.lovelace.test", tested=True)
    verified_domain(org)
    enforce(org, people[Role.OWNER])
    assert password_login(Client(), "member@acme.test").status_code == 302


def test_password_sessions_opened_before_enforcement_end_and_later_ones_are_refused(enterprise):
    org, people = enterprise
    add_connection(org, "https://idp.lovelace.test", tested=True)
    verified_domain(org)
    admin_browser, owner_browser = Client(), Client()
    password_login(admin_browser, "admin@lovelace.test")
    password_login(owner_browser, "owner@lovelace.test")
    assert admin_browser.get("/orgs/lovelace/organization/").status_code == 200

    enforce(org, people[Role.OWNER])

    response = admin_browser.get("/orgs/lovelace/organization/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert "_auth_user_id" not in admin_browser.session
    assert owner_browser.get("/orgs/lovelace/organization/").status_code == 200
    assert AuditEvent.objects.get(action="sso.enforcement_changed").after["sessions_ended"] == 1


def test_api_keys_keep_working_under_enforcement(enterprise):
    from tests.usage.conftest import make_event, post_events
    from usage.services import ingest_key_create

    org, people = enterprise
    add_connection(org, "https://idp.lovelace.test", tested=True)
    verified_domain(org)
    _, secret = ingest_key_create(actor=actor(people[Role.OWNER]), organization=org, name="gw")
    enforce(org, people[Role.OWNER])
    event = make_event(user_email="member@lovelace.test")
    response = post_events(Client(), secret, [event])
    assert response.status_code == 200
    assert response.json()["accepted"] == 1
