"""Saving SAML connections: the same rules and audit as OpenID Connect ones (sso.services).

The IdP's metadata is read and checked before the transaction; a change of IdP (metadata URL,
entity id, SSO URL or certificate) needs a new successful test before it counts, and so does
a new key pair of ours (saml_sp_certificate_replace).
"""

from django.db import transaction

from audit.services import Actor, audit_record
from organizations.models import Organization
from organizations.permissions import Capability

from .. import crypto, saml
from ..models import Connection, Protocol
from ..selectors import only_tested_connection, settings_of
from . import SSOError, _connection_snapshot, _require


class IdPDetailsError(SSOError):
    """The IdP's details from the chosen source are unusable; `field` is the form field they
    came from (the form shows the message there)."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


def _source_given(metadata_url: str, metadata_xml: str, manual: tuple[str, str, str]) -> str:
    """The source a caller that names none means: the first one filled in."""
    if metadata_url:
        return "metadata_url"
    if metadata_xml.strip():
        return "metadata_xml"
    return "manual" if all(manual) else ""


def saml_idp_resolve(
    *,
    source: str = "",
    metadata_url: str = "",
    metadata_xml: str = "",
    entity_id: str = "",
    sso_url: str = "",
    x509cert: str = "",
    slo_url: str = "",
) -> saml.IdP:
    """The IdP from one of three sources, checked; IdPDetailsError says what is wrong.

    With `source` given only that source is read, whatever else was filled in (the form keeps
    the other sources' fields but hides them). Without it, the first source given is used."""
    source = source or _source_given(metadata_url, metadata_xml, (entity_id, sso_url, x509cert))
    try:
        if source == "metadata_url" and metadata_url:
            return saml.idp_from_metadata_url(metadata_url)
        if source == "metadata_xml" and metadata_xml.strip():
            return saml.idp_from_metadata_xml(metadata_xml)
        if source == "manual" and entity_id and sso_url and x509cert:
            return saml.IdP(entity_id.strip(), sso_url, saml.certificate_body(x509cert), slo_url)
    except saml.MetadataError as error:
        field = "x509cert" if source == "manual" else source
        raise IdPDetailsError(str(error), field) from error
    raise IdPDetailsError(
        "Give the IdP's metadata URL, or paste its metadata XML, or enter its entity ID, "
        "SSO URL and signing certificate."
    )


def saml_connection_save(
    *,
    actor: Actor,
    organization: Organization,
    name: str,
    idp_source: str = "",
    metadata_url: str = "",
    metadata_xml: str = "",
    entity_id: str = "",
    sso_url: str = "",
    x509cert: str = "",
    slo_url: str = "",
    email_attribute: str = "",
    name_attribute: str = "",
    groups_attribute: str = "",
    connection: Connection | None = None,
) -> Connection:
    """Create a SAML connection (with its own SP key pair), or change one. `idp_source`
    names which of the IdP's details to use (the others are ignored)."""
    _require(actor, organization, Capability.MANAGE_SSO)
    idp_source = idp_source or _source_given(
        metadata_url, metadata_xml, (entity_id, sso_url, x509cert)
    )
    # Only a metadata URL that was chosen is kept (and read again at each login).
    metadata_url = metadata_url if idp_source == "metadata_url" else ""
    idp = saml_idp_resolve(
        source=idp_source,
        metadata_url=metadata_url,
        metadata_xml=metadata_xml,
        entity_id=entity_id,
        sso_url=sso_url,
        x509cert=x509cert,
        slo_url=slo_url,
    )
    new_keys = saml.sp_keypair(name) if connection is None else None
    with transaction.atomic():
        sso_settings = settings_of(organization)
        if connection is not None:
            connection = Connection.objects.select_for_update().get(pk=connection.pk)
        before = _connection_snapshot(connection) if connection else None
        connection = connection or Connection(organization=organization, protocol=Protocol.SAML)
        identity_changed = (
            connection.saml_metadata_url,
            connection.saml_entity_id,
            connection.saml_sso_url,
            connection.saml_x509cert,
        ) != (metadata_url, idp.entity_id, idp.sso_url, idp.x509cert)
        if identity_changed and sso_settings.enforced and only_tested_connection(connection):
            raise SSOError(
                "This is the only tested connection while SSO is enforced. Add and test another "
                "connection, or turn enforcement off, before changing its identity provider."
            )
        connection.name = name
        connection.saml_metadata_url = metadata_url
        connection.saml_entity_id, connection.saml_sso_url = idp.entity_id, idp.sso_url
        connection.saml_x509cert = idp.x509cert
        connection.saml_slo_url = idp.slo_url
        connection.saml_email_attribute = email_attribute.strip()
        connection.saml_name_attribute = name_attribute.strip()
        connection.saml_groups_attribute = groups_attribute.strip()
        if new_keys:
            private_pem, cert_body = new_keys
            connection.saml_sp_private_key_encrypted = crypto.encrypt(private_pem)
            connection.saml_sp_x509cert = cert_body
        if identity_changed:
            connection.tested_at, connection.test_identity = None, {}
        connection.save()
        audit_record(
            actor=actor,
            action="sso.connection_changed" if before else "sso.connection_created",
            organization=organization,
            target=connection,
            target_label=connection.name,
            before=before,
            after=_connection_snapshot(connection),
        )
    return connection


def saml_sp_certificate_replace(
    *, actor: Actor, organization: Organization, connection: Connection
) -> Connection:
    """Give a SAML connection a new SP key pair and destroy the old one.

    Our key signs only the AuthnRequests we send to the IdP (sso.saml.app_settings), and our SP
    metadata shows only its certificate. From now on requests are signed with the new key: an
    IdP that checks request signatures refuses them until it has the new certificate, so the
    connection needs a new successful test, as after a change of the IdP's certificate."""
    _require(actor, organization, Capability.MANAGE_SSO)
    if not connection.is_saml:
        raise SSOError("Only SAML connections have a signing certificate of ours.")
    private_pem, cert_body = saml.sp_keypair(connection.name)  # slow: outside the transaction
    with transaction.atomic():
        connection = Connection.objects.select_for_update().get(
            pk=connection.pk, organization=organization
        )
        if settings_of(organization).enforced and only_tested_connection(connection):
            raise SSOError(
                "This is the only tested connection while SSO is enforced. Add and test another "
                "connection, or turn enforcement off, before replacing its certificate: your "
                "IdP may refuse sign-ins until it has the new one."
            )
        before = {
            "sp_certificate": saml.fingerprint(connection.saml_sp_x509cert)
            if connection.saml_sp_x509cert
            else "",
            "tested": connection.tested_at is not None,
        }
        connection.saml_sp_private_key_encrypted = crypto.encrypt(private_pem)
        connection.saml_sp_x509cert = cert_body
        connection.tested_at, connection.test_identity = None, {}
        connection.save(
            update_fields=[
                "saml_sp_private_key_encrypted",
                "saml_sp_x509cert",
                "tested_at",
                "test_identity",
                "updated_at",
            ]
        )
        audit_record(
            actor=actor,
            action="sso.sp_certificate_replaced",
            organization=organization,
            target=connection,
            target_label=connection.name,
            before=before,
            after={
                "sp_certificate": saml.fingerprint(cert_body),
                "valid_until": saml.certificate_expiry(cert_body).date().isoformat(),
                "tested": False,
            },
        )
    return connection
