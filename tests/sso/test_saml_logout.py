"""SAML single logout through the real IdP (pysaml2 on loopback), which here checks the signature
of every request we send with the certificate from our SP metadata, as IdPs do once they have it.

- SP-initiated: signing out of Kilo ends our session, then sends the browser to the IdP with a
  LogoutRequest signed with the connection's key; the IdP's signed answer lands on allauth's sls.
- IdP-initiated: the IdP's signed LogoutRequest at sls ends our session and is answered.
- Unsigned logout messages are refused at sls (a link anyone could send).
"""

from urllib.parse import urlsplit

import pytest
import requests
from django.urls import reverse

from tests.sso.conftest import verified_domain
from tests.sso.saml_support import (
    SAML_PROVIDER_ID,
    add_saml_connection,
    register_with_idp,
    saml_login,
    sp_client,
)

pytestmark = pytest.mark.django_db
SLS = f"http://localhost/accounts/saml/{SAML_PROVIDER_ID}/sls/"
SP_ENTITY_ID = f"http://localhost/accounts/saml/{SAML_PROVIDER_ID}/metadata/"


def _local(url: str) -> str:
    """A URL on us, as the test client takes it (path and query)."""
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == "http://localhost", url
    return f"{parts.path}?{parts.query}"


@pytest.fixture
def ada_signed_in(enterprise, saml_idp_factory):
    org, _ = enterprise
    idp = saml_idp_factory(want_authn_requests_signed=True)
    connection = add_saml_connection(org, idp, tested=True, slo_url=idp.slo_url)
    verified_domain(org)
    register_with_idp(sp_client(), idp)
    client = sp_client()
    assert saml_login(client, "ada").status_code == 302
    assert "_auth_user_id" in client.session
    return idp, client, connection


def test_signing_out_of_kilo_signs_out_at_the_idp_too(ada_signed_in):
    idp, client, _ = ada_signed_in

    response = client.post(reverse("account_logout"))

    assert response.status_code == 302
    assert response["Location"].startswith(f"{idp.slo_url}?SAMLRequest=")
    assert "_auth_user_id" not in client.session  # our session ended before the IdP was asked
    at_idp = requests.get(response["Location"], allow_redirects=False, timeout=10)
    assert at_idp.status_code == 303, at_idp.text[:500]
    [request] = idp.log()["logout_requests"]
    assert request == {
        "issuer": SP_ENTITY_ID,
        "name_id": "ada@lovelace.test",
        "session_indexes": request["session_indexes"],
        "signed": True,  # and the IdP verified the signature with our SP certificate
    }
    answer = at_idp.headers["Location"]
    assert answer.startswith(f"{SLS}?SAMLResponse=") and "&Signature=" in answer

    back = client.get(_local(answer))  # allauth's sls checks the IdP's signed answer

    assert back.status_code == 302
    assert back["Location"] == reverse("account_login")


def test_an_idp_initiated_logout_ends_our_session_and_is_answered(ada_signed_in):
    idp, client, _ = ada_signed_in
    url = idp.start_logout(SP_ENTITY_ID, "ada@lovelace.test")
    assert url.startswith(f"{SLS}?SAMLRequest=")

    response = client.get(_local(url))

    assert response.status_code == 302
    assert "_auth_user_id" not in client.session
    assert response["Location"].startswith(f"{idp.slo_url}?SAMLResponse=")
    assert "&Signature=" in response["Location"]  # our answer is signed with our key
    assert requests.get(response["Location"], timeout=10).status_code == 200
    assert idp.log()["logout_responses"] == [
        {"issuer": SP_ENTITY_ID, "status": "urn:oasis:names:tc:SAML:2.0:status:Success"}
    ]


def test_an_unsigned_logout_request_signs_nobody_out(ada_signed_in):
    idp, client, _ = ada_signed_in
    url = idp.start_logout(SP_ENTITY_ID, "ada@lovelace.test", signed=False)
    assert "Signature=" not in url

    response = client.get(_local(url))

    assert response.status_code == 400
    assert "_auth_user_id" in client.session


def test_without_an_idp_logout_service_signing_out_ends_our_session_only(ada_signed_in):
    idp, client, connection = ada_signed_in
    connection.saml_slo_url = ""
    connection.save()

    response = client.post(reverse("account_logout"))

    assert response["Location"] == reverse("account_login")
    assert "_auth_user_id" not in client.session
    assert idp.log()["logout_requests"] == []


def test_a_password_sign_in_signs_out_here_only(enterprise, saml_idp):
    from organizations.models import Role

    org, people = enterprise
    add_saml_connection(org, saml_idp, tested=True, slo_url=saml_idp.slo_url)
    client = sp_client()
    client.force_login(people[Role.OWNER])

    response = client.post(reverse("account_logout"))

    assert response["Location"] == reverse("account_login")
    assert saml_idp.log()["logout_requests"] == []
