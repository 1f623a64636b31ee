"""SAML connections: what we read from the IdP, what allauth's `saml` app is given, what the IdP
needs from us, and the store of assertion ids already used.

Nothing here writes to the database (sso.services.saml does); reading the IdP's metadata happens
before any transaction.
"""

import base64
import hashlib
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import requests
from allauth.socialaccount.providers.saml.provider import SAMLProvider
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from django.urls import reverse
from onelogin.saml2.constants import OneLogin_Saml2_Constants
from onelogin.saml2.idp_metadata_parser import OneLogin_Saml2_IdPMetadataParser

from . import crypto
from .models import Connection

# What IdPs commonly call these attributes, tried in order when the owner names none.
EMAIL_ATTRIBUTES = [
    "urn:oid:0.9.2342.19200300.100.1.3",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
    "email",
    "mail",
]
NAME_ATTRIBUTES = [
    "urn:oid:2.16.840.1.113730.3.1.241",
    "http://schemas.microsoft.com/identity/claims/displayname",
    "displayName",
    "name",
]
GROUPS_ATTRIBUTES = [
    "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups",
    "urn:oid:1.3.6.1.4.1.5923.1.5.1.1",
    "groups",
    "memberOf",
]
# python3-saml accepts an assertion this long past its NotOnOrAfter (clock drift).
CLOCK_DRIFT_SECONDS = 300
METADATA_CACHE_SECONDS = 60 * 60


class MetadataError(ValueError):
    """The IdP's details are unusable; the message says why, for the form."""


@dataclass(frozen=True)
class IdP:
    entity_id: str
    sso_url: str
    x509cert: str  # base64 DER, no PEM armour
    slo_url: str = ""  # its single logout service (HTTP-Redirect), when it has one


# --- reading the IdP ----------------------------------------------------------------------------


def idp_from_metadata_url(url: str) -> IdP:
    if settings.PRODUCTION and not url.startswith("https://"):
        raise MetadataError("The metadata URL must use https.")
    try:
        response = requests.get(url, timeout=settings.SSO_HTTP_TIMEOUT_SECONDS)
        response.raise_for_status()
    except requests.RequestException as error:
        raise MetadataError(f"The metadata at {url} could not be read ({error}).") from error
    return idp_from_metadata_xml(response.text)


def idp_from_metadata_xml(xml: str) -> IdP:
    try:
        parsed = OneLogin_Saml2_IdPMetadataParser.parse(
            xml, required_sso_binding=OneLogin_Saml2_Constants.BINDING_HTTP_REDIRECT
        )
    except Exception as error:  # noqa: BLE001 - lxml and python3-saml raise several kinds
        raise MetadataError(f"The metadata is not valid XML ({error}).") from error
    idp = parsed.get("idp") or {}
    if not idp.get("entityId"):
        raise MetadataError("The metadata describes no identity provider (no IDPSSODescriptor).")
    sso_url = (idp.get("singleSignOnService") or {}).get("url")
    if not sso_url:
        raise MetadataError(
            "The metadata has no SingleSignOnService with the HTTP-Redirect binding."
        )
    cert = idp.get("x509cert") or next(
        iter((idp.get("x509certMulti") or {}).get("signing", [])), ""
    )
    if not cert:
        raise MetadataError("The metadata has no signing certificate.")
    slo_url = (idp.get("singleLogoutService") or {}).get("url") or ""
    return IdP(
        entity_id=idp["entityId"],
        sso_url=sso_url,
        x509cert=certificate_body(cert),
        slo_url=slo_url,
    )


def certificate_body(text: str) -> str:
    """A certificate pasted as PEM or bare base64, checked and returned as base64 DER."""
    lines = [line.strip() for line in text.strip().splitlines()]
    body = "".join(line for line in lines if line and "-----" not in line).replace(" ", "")
    if not body:
        raise MetadataError("Enter the IdP's signing certificate.")
    pem = "-----BEGIN CERTIFICATE-----\n" + body + "\n-----END CERTIFICATE-----\n"
    try:
        cert = x509.load_pem_x509_certificate(pem.encode())
    except ValueError as error:
        raise MetadataError("The certificate is not an X.509 certificate (PEM).") from error
    if cert.not_valid_after_utc < datetime.now(UTC):
        raise MetadataError(f"The certificate expired on {cert.not_valid_after_utc:%d %B %Y}.")
    return body


def fingerprint(cert_body: str) -> str:
    """SHA-256 fingerprint as IdP consoles show it (AB:CD:...)."""
    digest = hashlib.sha256(_der(cert_body)).hexdigest().upper()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def certificate_expiry(cert_body: str) -> datetime:
    return x509.load_der_x509_certificate(_der(cert_body)).not_valid_after_utc


def _der(cert_body: str) -> bytes:
    return base64.b64decode(cert_body)


def saml_snapshot(connection: Connection) -> dict:
    """A SAML connection as the audit log shows it (the SP key never, only its fingerprint)."""
    return {
        "name": connection.name,
        "protocol": connection.protocol,
        "metadata_url": connection.saml_metadata_url,
        "entity_id": connection.saml_entity_id,
        "sso_url": connection.saml_sso_url,
        "slo_url": connection.saml_slo_url,
        "certificate": fingerprint(connection.saml_x509cert) if connection.saml_x509cert else "",
        "attributes": {
            "email": connection.saml_email_attribute,
            "name": connection.saml_name_attribute,
            "groups": connection.saml_groups_attribute,
        },
        "sp_certificate": (
            fingerprint(connection.saml_sp_x509cert) if connection.saml_sp_x509cert else ""
        ),
        "tested": connection.tested_at is not None,
    }


# --- our side (SP) ------------------------------------------------------------------------------


def sp_keypair(name: str) -> tuple[str, str]:
    """A fresh key pair for one connection: (private key PEM, certificate body)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"Kilo SSO {name}"[:64])])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return private_pem, certificate_body(cert.public_bytes(serialization.Encoding.PEM).decode())


def sp_endpoints(request: HttpRequest, connection: Connection) -> dict[str, str]:
    """What the IdP administrator enters for us (the same URLs allauth builds at login)."""
    slug = {"organization_slug": connection.provider_id}
    metadata = request.build_absolute_uri(reverse("saml_metadata", kwargs=slug))
    return {
        "acs_url": request.build_absolute_uri(reverse("saml_acs", kwargs=slug)),
        "entity_id": metadata,  # allauth's SP entity id is the metadata URL
        "metadata_url": metadata,
        "slo_url": request.build_absolute_uri(reverse("saml_sls", kwargs=slug)),
    }


def _mapping(configured: str, defaults: list[str]) -> list[str]:
    return [configured] if configured else defaults


def app_settings(connection: Connection, *, logout_endpoint: bool = False) -> dict:
    """allauth's SocialApp.settings for a SAML connection: strict, signed assertions only.

    `logout_endpoint`: for allauth's single logout endpoint (sls), which then accepts signed
    LogoutRequests and LogoutResponses only (sso.saml_logout)."""
    if connection.saml_metadata_url:
        idp = {
            "metadata_url": connection.saml_metadata_url,
            "entity_id": connection.saml_entity_id,  # pins the issuer
            "metadata_request_timeout": settings.SSO_HTTP_TIMEOUT_SECONDS,
            "metadata_cache_timeout": METADATA_CACHE_SECONDS,
        }
    else:
        idp = {
            "entity_id": connection.saml_entity_id,
            "sso_url": connection.saml_sso_url,
            "x509cert": connection.saml_x509cert,
        }
        if connection.saml_slo_url:
            idp["slo_url"] = connection.saml_slo_url
    mapping = dict(SAMLProvider.default_attribute_mapping)
    mapping["email"] = _mapping(connection.saml_email_attribute, EMAIL_ATTRIBUTES)
    mapping["name"] = _mapping(connection.saml_name_attribute, NAME_ATTRIBUTES)
    mapping["last_name"] = [
        *mapping["last_name"],
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname",
    ]
    advanced = {
        "strict": True,  # issuer, audience, destination, recipient, validity window
        "want_assertion_signed": True,
        # Many IdPs sign only the assertion of a login response; logout messages come in a URL
        # (HTTP-Redirect) and are signed there, or anyone could sign a browser out with a link.
        "want_message_signed": logout_endpoint,
        "want_attribute_statement": False,  # an email NameID alone is enough
        "want_name_id": True,
        "reject_idp_initiated_sso": True,  # only answers to a request this browser made
        "reject_deprecated_algorithm": True,  # no SHA-1
    }
    if connection.saml_sp_private_key_encrypted:
        advanced |= {
            "authn_request_signed": True,
            "logout_request_signed": True,
            "logout_response_signed": True,
            "private_key": crypto.decrypt(connection.saml_sp_private_key_encrypted),
            "x509cert": connection.saml_sp_x509cert,
        }
    return {"idp": idp, "attribute_mapping": mapping, "advanced": advanced}


# --- what came back -----------------------------------------------------------------------------


def identity(connection: Connection, uid: str, email: str, attributes: dict) -> dict:
    """What the IdP said, for the test result and provisioning (groups under "groups")."""
    groups: list[str] = []
    for name in _mapping(connection.saml_groups_attribute, GROUPS_ATTRIBUTES):
        if attributes.get(name):
            groups = [str(g) for g in attributes[name]]
            break
    display = next(
        (
            attributes[n][0]
            for n in _mapping(connection.saml_name_attribute, NAME_ATTRIBUTES)
            if attributes.get(n)
        ),
        "",
    )
    found = {"name_id": uid, "email": email, "name": display, "groups": groups}
    found["issuer"] = connection.saml_entity_id
    found["attributes"] = {k: [str(v) for v in vs] for k, vs in attributes.items()}
    return {k: v for k, v in found.items() if v}


# --- replay -------------------------------------------------------------------------------------


def assertion_first_use(
    provider_id: str, assertion_id: str | None, not_on_or_after: int | None
) -> bool:
    """Record an assertion id; False when it was seen before. Kept until the assertion could no
    longer pass python3-saml's own time check (its NotOnOrAfter plus the allowed clock drift);
    cache.add is atomic in Redis, so two copies posted at once cannot both pass."""
    if not assertion_id:
        return False
    expires = (not_on_or_after or time.time() + 24 * 3600) + CLOCK_DRIFT_SECONDS
    timeout = max(int(expires - time.time()), 60)
    key = (
        "sso.saml.assertion." + hashlib.sha256(f"{provider_id}|{assertion_id}".encode()).hexdigest()
    )
    return cache.add(key, 1, timeout=timeout)
