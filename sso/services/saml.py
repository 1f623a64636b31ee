"""Saving SAML connections: the same rules and audit as OpenID Connect ones (sso.services).

The IdP's metadata is read and checked before the transaction; a change of IdP (metadata URL,
entity id, SSO URL or certificate) needs a new successful test before it counts.
"""

from django.db import transaction

from audit.services import Actor, audit_record
from organizations.models import Organization
from organizations.permissions import Capability

from .. import crypto, saml
from ..models import Connection, Protocol
from ..selectors import settings_of
from . import SSOError, _connection_snapshot, _only_tested_connection, _require


def saml_idp_resolve(
    *,
    metadata_url: str = "",
    metadata_xml: str = "",
    entity_id: str = "",
    sso_url: str = "",
    x509cert: str = "",
) -> saml.IdP:
    """The IdP from one of three sources, checked; SSOError says what is wrong."""
    try:
        if metadata_url:
            return saml.idp_from_metadata_url(metadata_url)
        if metadata_xml.strip():
            return saml.idp_from_metadata_xml(metadata_xml)
        if entity_id and sso_url and x509cert:
            return saml.IdP(entity_id, sso_url, saml.certificate_body(x509cert))
    except saml.MetadataError as error:
        raise SSOError(str(error)) from error
    raise SSOError(
        "Give the IdP's metadata URL, or paste its metadata XML, or enter its entity ID, "
        "SSO URL and signing certificate."
    )


def saml_connection_save(
    *,
    actor: Actor,
    organization: Organization,
    name: str,
    metadata_url: str = "",
    metadata_xml: str = "",
    entity_id: str = "",
    sso_url: str = "",
    x509cert: str = "",
    email_attribute: str = "",
    name_attribute: str = "",
    groups_attribute: str = "",
    connection: Connection | None = None,
) -> Connection:
    """Create a SAML connection (with its own SP key pair), or change one."""
    _require(actor, organization, Capability.MANAGE_SSO)
    idp = saml_idp_resolve(
        metadata_url=metadata_url,
        metadata_xml=metadata_xml,
        entity_id=entity_id,
        sso_url=sso_url,
        x509cert=x509cert,
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
        if identity_changed and sso_settings.enforced and _only_tested_connection(connection):
            raise SSOError(
                "This is the only tested connection while SSO is enforced. Add and test another "
                "connection, or turn enforcement off, before changing its identity provider."
            )
        connection.name = name
        connection.saml_metadata_url = metadata_url
        connection.saml_entity_id, connection.saml_sso_url = idp.entity_id, idp.sso_url
        connection.saml_x509cert = idp.x509cert
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
