"""SSO logins through a real OpenID provider (node-oidc-provider on loopback)."""

from urllib.parse import parse_qs, urlencode, urlparse

import pytest
from django.core import mail
from django.test import Client

from audit.models import AuditEvent
from organizations.models import Membership, Role
from sso.models import SeatRequest, Settings
from tests.conftest import make_user
from tests.sso.conftest import add_connection, idp_sign_in, sso_login, verified_domain

pytestmark = pytest.mark.django_db


def test_a_first_sso_login_from_a_verified_domain_joins_as_member_with_a_seat(enterprise, idp):
    org, people = enterprise
    add_connection(org, idp.issuer, tested=True)
    verified_domain(org)
    client = Client()

    response = sso_login(client, "ada")

    assert response.status_code == 302
    membership = Membership.objects.get(organization=org, user__email="ada@lovelace.test")
    assert membership.role == Role.MEMBER
    assert membership.user.name == "Ada Lovelace"
    assert client.get("/").status_code == 302  # signed in: home redirects to the organization
    event = AuditEvent.objects.get(action="member.provisioned")
    assert event.after == {"role": "member", "via": "Lovelace IdP"}


def test_the_admin_group_of_the_idp_makes_an_admin(enterprise, idp):
    org, _ = enterprise
    add_connection(org, idp.issuer, tested=True)
    verified_domain(org)
    Settings.objects.create(organization=org, admin_group="kilo-admins")
    sso_login(Client(), "grace")
    assert Membership.objects.get(user__email="grace@lovelace.test").role == Role.ADMIN


def test_no_free_seat_means_waiting_and_one_email_to_the_owners_never_an_extra_seat(
    enterprise, idp, django_capture_on_commit_callbacks
):
    org, _ = enterprise
    org.seat_count = 3  # owner, admin, member: full
    org.save()
    add_connection(org, idp.issuer, tested=True)
    verified_domain(org)
    client = Client()

    with django_capture_on_commit_callbacks(execute=True):
        response = sso_login(client, "ada")

    assert response["Location"] == "/sso/waiting/"
    assert "every seat is taken" in client.get("/sso/waiting/").content.decode()
    assert not Membership.objects.filter(user__email="ada@lovelace.test").exists()
    assert Membership.objects.filter(organization=org).count() == 3
    assert SeatRequest.objects.filter(organization=org, fulfilled_at=None).count() == 1
    assert [m.to for m in mail.outbox] == [["owner@lovelace.test"]]
    assert mail.outbox[0].subject == "1 person is waiting for a seat in Lovelace Labs"

    with django_capture_on_commit_callbacks(execute=True):
        sso_login(Client(), "ada")  # tries again: still waiting, no second email
    assert len(mail.outbox) == 1

    org.seat_count = 4
    org.save()
    sso_login(Client(), "ada")  # a seat was added: joins now
    assert Membership.objects.filter(organization=org, user__email="ada@lovelace.test").exists()
    assert not SeatRequest.objects.filter(fulfilled_at=None).exists()


def test_an_email_outside_the_verified_domains_is_refused_and_audited(enterprise, idp):
    org, _ = enterprise
    add_connection(org, idp.issuer, tested=True)
    verified_domain(org)
    client = Client()

    response = sso_login(client, "mallory")

    assert response.status_code == 403
    assert "not in a domain Lovelace Labs has verified" in response.content.decode()
    assert not Membership.objects.filter(user__email="mallory@elsewhere.test").exists()
    assert "_auth_user_id" not in client.session
    event = AuditEvent.objects.get(action="sso.login_refused")
    assert event.after == {"reason": "domain not verified", "domain": "elsewhere.test"}


def test_a_state_that_does_not_match_the_session_is_refused(enterprise, idp):
    org, _ = enterprise
    add_connection(org, idp.issuer, tested=True)
    verified_domain(org)
    victim, attacker = Client(), Client()
    start = attacker.post("/accounts/oidc/kilo-0f3c8e2a6d1b4c579a4e3b2d1c0e9f71/login/")
    back = idp_sign_in(start["Location"], "ada")
    # Login CSRF: the attacker's callback URL opened in the victim's browser.
    response = victim.get(back.removeprefix("http://testserver"))
    assert "_auth_user_id" not in victim.session
    assert response.status_code == 401  # allauth's "login failed" page
    assert not Membership.objects.filter(user__email="ada@lovelace.test").exists()

    # A tampered state in the attacker's own browser fails the same way.
    parts = urlparse(back)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query["state"] = query["state"][:-2] + "xx"
    attacker.get(f"{parts.path}?{urlencode(query)}")
    assert "_auth_user_id" not in attacker.session


def test_an_id_token_whose_nonce_is_not_the_one_sent_is_refused(enterprise, idp):
    org, _ = enterprise
    add_connection(org, idp.issuer, tested=True)
    verified_domain(org)
    client = Client()
    start = client.post("/accounts/oidc/kilo-0f3c8e2a6d1b4c579a4e3b2d1c0e9f71/login/")
    parts = urlparse(start["Location"])
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert len(query["nonce"]) >= 32  # we send one
    # The IdP signs an ID token for another nonce (one injected from another login): state and
    # PKCE still match this browser's login, only the nonce check can tell.
    query["nonce"] = "n-" + query["nonce"][::-1]
    back = idp_sign_in(f"{parts.scheme}://{parts.netloc}{parts.path}?{urlencode(query)}", "ada")

    response = client.get(back.removeprefix("http://testserver"))

    assert response.status_code == 401
    assert "_auth_user_id" not in client.session
    assert not Membership.objects.filter(user__email="ada@lovelace.test").exists()
    event = AuditEvent.objects.get(action="sso.login_refused")
    assert event.after["reason"] == "the ID token's nonce is not the one this login sent"


def test_the_test_login_records_the_identity_and_keeps_the_owner_signed_in_as_themself(
    enterprise, idp
):
    org, people = enterprise
    connection = add_connection(org, idp.issuer)
    verified_domain(org)
    owner = Client()
    owner.force_login(people[Role.OWNER])
    page = owner.get(f"/orgs/lovelace/sso/connections/{connection.public_id}/test/")
    assert page.status_code == 200

    response = sso_login(owner, "ada")

    assert response["Location"] == (
        f"/orgs/lovelace/sso/connections/{connection.public_id}/test/result/"
    )
    connection.refresh_from_db()
    assert connection.tested_at is not None
    assert connection.test_identity["email"] == "ada@lovelace.test"
    assert connection.test_identity["groups"] == ["engineering"]
    assert connection.test_identity["iss"] == idp.issuer
    assert int(owner.session["_auth_user_id"]) == people[Role.OWNER].pk
    assert not Membership.objects.filter(user__email="ada@lovelace.test").exists()
    result = owner.get(response["Location"]).content.decode()
    assert "ada@lovelace.test" in result and "Passed" in result


def test_an_existing_password_user_of_the_domain_is_signed_in_as_that_account(enterprise, idp):
    org, _ = enterprise
    add_connection(org, idp.issuer, tested=True)
    verified_domain(org)
    ada = make_user("ada@lovelace.test", "Ada")
    client = Client()
    sso_login(client, "ada")
    assert int(client.session["_auth_user_id"]) == ada.pk
