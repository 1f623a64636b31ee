"""What a SAML login refuses, each through the real IdP (pysaml2) set up to misbehave the way a
broken or hostile IdP would, or an attacker replaying what it captured. Every refusal leaves
nobody signed in, creates no member, and is audited with python3-saml's or our reason."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from audit.models import AuditEvent
from organizations.models import Membership
from tests.idp.saml.keys import make_keypair
from tests.sso.conftest import verified_domain
from tests.sso.saml_support import (
    add_saml_connection,
    idp_response,
    post_to_acs,
    register_with_idp,
    sp_client,
)

pytestmark = pytest.mark.django_db


def connect(org, idp, **connection):  # noqa: ANN001, ANN201
    add_saml_connection(org, idp, tested=True, **connection)
    verified_domain(org)
    register_with_idp(sp_client(), idp)


def assert_refused(client, response, reason: str) -> None:  # noqa: ANN001
    assert response.status_code in (401, 403), response.status_code
    assert "_auth_user_id" not in client.session
    assert not Membership.objects.filter(user__email="ada@lovelace.test").exists()
    reasons = [e.after["reason"] for e in AuditEvent.objects.filter(action="sso.login_refused")]
    assert any(reason in r for r in reasons), reasons


def test_an_unsigned_assertion_is_refused(enterprise, saml_idp_factory):
    org, _ = enterprise
    connect(org, saml_idp_factory(sign_assertion=False, sign_response=False))
    client = sp_client()
    response = post_to_acs(client, idp_response(client, "ada"))
    assert_refused(client, response, "The Assertion of the Response is not signed")


def test_a_signed_response_around_an_unsigned_assertion_is_refused(enterprise, saml_idp_factory):
    org, _ = enterprise
    connect(org, saml_idp_factory(sign_assertion=False, sign_response=True))
    client = sp_client()
    response = post_to_acs(client, idp_response(client, "ada"))
    assert_refused(client, response, "The Assertion of the Response is not signed")


def test_an_assertion_signed_with_another_key_is_refused(enterprise, saml_idp_factory, tmp_path):
    org, _ = enterprise
    idp = saml_idp_factory()
    trusted = make_keypair(tmp_path / "trusted", "trusted")  # what the owner entered
    connect(org, idp, cert_pem=trusted.cert_pem)
    client = sp_client()
    response = post_to_acs(client, idp_response(client, "ada"))
    assert_refused(client, response, "Signature validation failed")


def test_a_replayed_assertion_is_refused(enterprise, saml_idp):
    org, _ = enterprise
    connect(org, saml_idp)
    client = sp_client()
    captured = idp_response(client, "ada")
    assert post_to_acs(client, captured).status_code == 302  # the genuine login
    Membership.objects.filter(user__email="ada@lovelace.test").delete()

    # The same POST again: in the same browser, and in an attacker's.
    for replayer in (client, sp_client()):
        replayer.logout()
        response = post_to_acs(replayer, captured)
        assert_refused(replayer, response, "replayed assertion")


def test_an_expired_assertion_is_refused(enterprise, saml_idp):
    org, _ = enterprise
    connect(org, saml_idp)  # assertions valid 5 minutes; python3-saml allows 5 more of drift
    client = sp_client()
    captured = idp_response(client, "ada")
    with time_machine.travel(timezone.now() + timedelta(minutes=11), tick=False):
        response = post_to_acs(client, captured)
    assert_refused(client, response, "expired")


def test_an_assertion_for_another_audience_is_refused(enterprise, saml_idp_factory):
    org, _ = enterprise
    connect(org, saml_idp_factory(audience="https://another-app.example/saml/metadata"))
    client = sp_client()
    response = post_to_acs(client, idp_response(client, "ada"))
    assert_refused(client, response, "is not a valid audience")


def test_an_assertion_from_another_issuer_is_refused(enterprise, saml_idp):
    org, _ = enterprise
    # Same key and SSO URL, but the owner configured a different IdP entity id.
    connect(org, saml_idp, entity_id="https://idp.lovelace.test/expected")
    client = sp_client()
    response = post_to_acs(client, idp_response(client, "ada"))
    assert_refused(client, response, "Invalid issuer")


def test_an_unsolicited_idp_initiated_response_is_refused(enterprise, saml_idp):
    org, _ = enterprise
    connect(org, saml_idp)
    victim = sp_client()
    captured = idp_response(sp_client(), "ada")  # an answer to someone else's request
    response = post_to_acs(victim, captured)
    assert response.status_code in (401, 403)
    assert "_auth_user_id" not in victim.session
    assert not Membership.objects.filter(user__email="ada@lovelace.test").exists()
