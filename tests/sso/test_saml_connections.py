"""Configuring a SAML connection: the IdP from its metadata URL, pasted metadata, or entered by
hand, checked on save with the reason when it is unusable; our SP key encrypted at rest."""

import re

import pytest
import requests
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.test import Client

from audit.models import AuditEvent
from organizations.models import Role
from sso import crypto
from sso.models import Connection, Protocol
from tests.idp.saml.keys import make_keypair

pytestmark = pytest.mark.django_db
NEW = "/orgs/lovelace/sso/connections/new/saml/"


def owner_client(people) -> Client:  # noqa: ANN001
    client = Client(HTTP_HOST="localhost")
    client.force_login(people[Role.OWNER])
    return client


def form(**fields: str) -> dict:
    return {"name": "Lovelace SAML", **fields}


def test_an_owner_adds_a_saml_connection_from_the_idp_metadata_url(enterprise, saml_idp):
    org, people = enterprise
    owner = owner_client(people)

    response = owner.post(NEW, form(metadata_url=saml_idp.metadata_url))

    assert response.status_code == 302, response.content.decode()[-3000:]
    connection = Connection.objects.get(organization=org)
    assert connection.protocol == Protocol.SAML and connection.tested_at is None
    assert connection.saml_entity_id == saml_idp.entity_id
    assert connection.saml_sso_url == saml_idp.sso_url
    assert connection.saml_x509cert == saml_idp.keys.cert_body
    private_key = crypto.decrypt(connection.saml_sp_private_key_encrypted)
    assert private_key.startswith("-----BEGIN PRIVATE KEY-----")
    assert "PRIVATE KEY" not in connection.saml_sp_private_key_encrypted
    event = AuditEvent.objects.get(action="sso.connection_created")
    assert event.after["entity_id"] == saml_idp.entity_id
    assert re.fullmatch(r"([0-9A-F]{2}:){31}[0-9A-F]{2}", event.after["certificate"])
    assert "PRIVATE" not in str(event.after)

    page = owner.get("/orgs/lovelace/sso/").content.decode()
    base = f"http://localhost/accounts/saml/{connection.provider_id}"
    assert f'value="{base}/acs/"' in page  # ACS URL
    assert page.count(f'value="{base}/metadata/"') == 2  # SP entity id and metadata URL
    assert "IdP certificate …" in page and "Our signing key: encrypted" in page
    assert "PRIVATE KEY" not in page and private_key[40:80] not in page


def test_pasted_metadata_and_hand_entered_details_work_too(enterprise, saml_idp):
    org, people = enterprise
    owner = owner_client(people)
    xml = requests.get(saml_idp.metadata_url, timeout=10).text
    assert owner.post(NEW, form(metadata_xml=xml)).status_code == 302
    pasted = Connection.objects.get(organization=org)
    assert (pasted.saml_metadata_url, pasted.saml_entity_id) == ("", saml_idp.entity_id)

    by_hand = form(
        name="By hand",
        entity_id=saml_idp.entity_id,
        sso_url=saml_idp.sso_url,
        x509cert=saml_idp.keys.cert_pem,
    )
    assert owner.post(NEW, by_hand).status_code == 302
    assert Connection.objects.get(name="By hand").saml_x509cert == saml_idp.keys.cert_body


def _without_certificates(xml: str) -> str:
    return re.sub(r"<ns\d:KeyDescriptor.*?</ns\d:KeyDescriptor>", "", xml, flags=re.S)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"metadata_xml": "<EntityDescriptor><oops"}, "The metadata is not valid XML"),
        ({"metadata_xml": "no-idp"}, "describes no identity provider"),
        ({"metadata_xml": "no-cert"}, "The metadata has no signing certificate."),
        ({"metadata_url": "http://127.0.0.1:9/metadata"}, "could not be read"),
        (
            {"entity_id": "https://idp.test", "sso_url": "https://idp.test/sso"},
            "needs all three: entity ID, SSO URL and certificate",
        ),
        (
            {"entity_id": "https://idp.test", "sso_url": "https://idp.test/sso", "x509cert": "abc"},
            "is not an X.509 certificate",
        ),
        ({"metadata_url": "idp", "metadata_xml": "<x/>"}, "Use one way to describe the IdP"),
        ({}, "Give the IdP&#x27;s metadata URL"),
    ],
)
def test_unusable_idp_details_are_refused_with_the_reason(enterprise, saml_idp, fields, message):
    org, people = enterprise
    owner = owner_client(people)
    idp_xml = requests.get(saml_idp.metadata_url, timeout=10).text
    if fields.get("metadata_xml") == "no-idp":  # an SP's metadata, pasted by mistake
        fields["metadata_xml"] = idp_xml.replace("IDPSSODescriptor", "SPSSODescriptor")
    if fields.get("metadata_xml") == "no-cert":
        fields["metadata_xml"] = _without_certificates(idp_xml)
    if fields.get("metadata_url") == "idp":
        fields["metadata_url"] = saml_idp.metadata_url

    response = owner.post(NEW, form(**fields))

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Connection.objects.exists()
    assert not AuditEvent.objects.filter(action="sso.connection_created").exists()


def test_a_new_idp_certificate_needs_a_new_test_and_a_rename_does_not(
    enterprise, saml_idp, tmp_path
):
    from tests.sso.saml_support import add_saml_connection

    org, people = enterprise
    connection = add_saml_connection(org, saml_idp, tested=True)
    url = f"/orgs/lovelace/sso/connections/{connection.public_id}/saml/"
    owner = owner_client(people)
    details = {"entity_id": saml_idp.entity_id, "sso_url": saml_idp.sso_url}
    owner.post(url, form(name="Renamed", x509cert=saml_idp.keys.cert_pem, **details))
    connection.refresh_from_db()
    assert connection.name == "Renamed" and connection.tested_at is not None

    other = make_keypair(tmp_path / "next", "next")
    owner.post(url, form(name="Renamed", x509cert=other.cert_pem, **details))
    connection.refresh_from_db()
    assert connection.saml_x509cert == other.cert_body and connection.tested_at is None
    # The OpenID Connect form sends a SAML connection to its own form.
    oidc_url = f"/orgs/lovelace/sso/connections/{connection.public_id}/"
    assert owner.get(oidc_url)["Location"] == url


def test_rotating_keys_re_encrypts_the_saml_private_key(enterprise, saml_idp, settings):
    from tests.sso.saml_support import add_saml_connection

    org, _ = enterprise
    connection = add_saml_connection(org, saml_idp)
    private_key = crypto.decrypt(connection.saml_sp_private_key_encrypted)
    old_key = settings.SSO_ENCRYPTION_KEYS[0]
    new_key = Fernet.generate_key().decode()
    settings.SSO_ENCRYPTION_KEYS = [new_key, old_key]
    call_command("sso_rotate_keys")
    settings.SSO_ENCRYPTION_KEYS = [new_key]  # the old key is dropped
    connection.refresh_from_db()
    assert crypto.decrypt(connection.saml_sp_private_key_encrypted) == private_key


# --- the choice of how to describe the IdP --------------------------------------------------------


def _checked_source(html: str) -> list[str]:
    return re.findall(r'<input type="radio" name="idp_source" value="(\w+)"[^>]*checked', html)


def test_the_form_asks_how_to_describe_the_idp_and_starts_with_the_metadata_url(enterprise):
    _, people = enterprise
    page = owner_client(people).get(NEW).content.decode()
    assert "How do you want to give us your IdP&#x27;s details?" in page
    for value in ("metadata_url", "metadata_xml", "manual"):
        assert f'name="idp_source" value="{value}"' in page
    assert _checked_source(page) == ["metadata_url"]
    # Each source's fields sit in their own fieldset, which CSS hides unless chosen.
    for fieldset in ("source-metadata_url", "source-metadata_xml", "source-manual"):
        assert f'id="{fieldset}"' in page


def test_the_chosen_source_is_used_and_the_others_are_ignored(enterprise, saml_idp, tmp_path):
    org, people = enterprise
    owner = owner_client(people)
    other = make_keypair(tmp_path / "other", "other")
    leftovers = {  # what the owner typed before changing their mind: all of it unusable
        "metadata_url": "http://127.0.0.1:9/metadata",
        "metadata_xml": "<EntityDescriptor><oops",
        "entity_id": "https://wrong.test",
        "sso_url": "not a url",
        "x509cert": other.cert_pem,
    }

    by_hand = {
        **leftovers,
        "idp_source": "manual",
        "entity_id": saml_idp.entity_id,
        "sso_url": saml_idp.sso_url,
        "x509cert": saml_idp.keys.cert_pem,
    }
    assert owner.post(NEW, form(name="By hand", **by_hand)).status_code == 302
    manual = Connection.objects.get(name="By hand")
    assert manual.saml_metadata_url == ""  # the URL typed in the hidden field is not kept
    assert (manual.saml_entity_id, manual.saml_sso_url) == (saml_idp.entity_id, saml_idp.sso_url)
    assert manual.saml_x509cert == saml_idp.keys.cert_body

    by_url = {**leftovers, "idp_source": "metadata_url", "metadata_url": saml_idp.metadata_url}
    assert owner.post(NEW, form(name="By URL", **by_url)).status_code == 302
    from_url = Connection.objects.get(name="By URL")
    assert from_url.saml_metadata_url == saml_idp.metadata_url
    assert from_url.saml_entity_id == saml_idp.entity_id  # not https://wrong.test
    assert from_url.saml_x509cert == saml_idp.keys.cert_body  # not the other certificate

    xml = requests.get(saml_idp.metadata_url, timeout=10).text
    by_xml = {**leftovers, "idp_source": "metadata_xml", "metadata_xml": xml}
    assert owner.post(NEW, form(name="By XML", **by_xml)).status_code == 302
    pasted = Connection.objects.get(name="By XML")
    assert (pasted.saml_metadata_url, pasted.saml_sso_url) == ("", saml_idp.sso_url)
    assert pasted.saml_x509cert == saml_idp.keys.cert_body
    assert Connection.objects.filter(organization=org).count() == 3


def _field_block(html: str, field: str) -> str:
    """The markup of one field (label, control, help, errors)."""
    start = html.index(f'<label for="id_{field}">')
    return html[start : html.index('<div class="field', start + 1)]


def test_an_error_is_shown_at_the_chosen_source_and_every_input_is_kept(enterprise, saml_idp):
    _, people = enterprise
    fields = {
        "idp_source": "metadata_url",
        "metadata_url": "http://127.0.0.1:9/metadata",
        "x509cert": "kept-while-hidden",
        "email_attribute": "mail",
    }

    response = owner_client(people).post(NEW, form(**fields))

    assert response.status_code == 200
    page = response.content.decode()
    assert "could not be read" in _field_block(page, "metadata_url")
    assert 'value="http://127.0.0.1:9/metadata"' in page
    assert "kept-while-hidden</textarea>" in page
    assert _checked_source(page) == ["metadata_url"]
    assert '<details class="idp-attributes" open>' in page  # a filled attribute stays in view
    assert not Connection.objects.exists()


def test_a_chosen_source_left_incomplete_says_what_is_missing(enterprise, saml_idp):
    _, people = enterprise
    fields = {
        "idp_source": "manual",
        "entity_id": saml_idp.entity_id,
        "metadata_url": saml_idp.metadata_url,  # a usable URL, but not the chosen way
    }

    response = owner_client(people).post(NEW, form(**fields))

    assert response.status_code == 200
    page = response.content.decode()
    assert "Enter the IdP&#x27;s single sign-on URL." in _field_block(page, "sso_url")
    assert "Paste the IdP&#x27;s signing certificate." in _field_block(page, "x509cert")
    assert "field__error" not in _field_block(page, "entity_id")
    assert "field__error" not in _field_block(page, "metadata_url")
    assert not Connection.objects.exists()

    empty_xml = owner_client(people).post(NEW, form(idp_source="metadata_xml"))
    assert "Paste your IdP&#x27;s metadata XML" in _field_block(
        empty_xml.content.decode(), "metadata_xml"
    )


def test_a_bad_certificate_by_hand_is_shown_at_the_certificate(enterprise, saml_idp):
    _, people = enterprise
    fields = {
        "idp_source": "manual",
        "entity_id": saml_idp.entity_id,
        "sso_url": saml_idp.sso_url,
        "x509cert": "not a certificate",
    }
    page = owner_client(people).post(NEW, form(**fields)).content.decode()
    assert "is not an X.509 certificate" in _field_block(page, "x509cert")
    assert "not a certificate</textarea>" in page


def test_editing_preselects_how_the_connection_was_described(enterprise, saml_idp):
    from tests.sso.saml_support import add_saml_connection

    org, people = enterprise
    owner = owner_client(people)
    manual = add_saml_connection(org, saml_idp)
    page = owner.get(f"/orgs/lovelace/sso/connections/{manual.public_id}/saml/").content.decode()
    assert _checked_source(page) == ["manual"]
    assert saml_idp.keys.cert_body in page

    owner.post(
        NEW, form(name="By URL", idp_source="metadata_url", metadata_url=saml_idp.metadata_url)
    )
    by_url = Connection.objects.get(name="By URL")
    page = owner.get(f"/orgs/lovelace/sso/connections/{by_url.public_id}/saml/").content.decode()
    assert _checked_source(page) == ["metadata_url"]
    assert f'value="{saml_idp.metadata_url}"' in page
