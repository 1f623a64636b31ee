"""Every write to SSO: connections, domains, enforcement, test logins and provisioning.
(SAML connections are saved by sso.services.saml, with the same rules.)

Owners configure; each change runs in one transaction with its audit event. Calls to the outside
(the IdP's discovery document, DNS) happen before the transaction, never inside it.
"""

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import requests
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from audit.services import Actor, audit_record
from kilo_dashboard.jobs import enqueue
from organizations import services as organization_services
from organizations.models import Membership, Organization, Plan, Role
from organizations.permissions import Capability, role_can
from organizations.selectors import membership_role

from .. import crypto, dns
from ..models import Connection, Domain, DomainStatus, SeatRequest, Settings
from ..saml import saml_snapshot
from ..selectors import (
    connections_of,
    email_domain,
    only_tested_connection,
    settings_of,
    verified_domain_names,
)

DOMAIN_PROOF_DAYS = 7
DOMAIN_RE = re.compile(r"^(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
# Domains nobody may claim: shared mailbox providers would hand a whole public to one org.
PUBLIC_MAIL_DOMAINS = frozenset(
    {"gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "yahoo.com", "icloud.com",
     "proton.me", "protonmail.com", "gmx.com", "aol.com", "live.com", "example.com"}
)  # fmt: skip


class SSOError(Exception):
    """A rule refused the change; the message is safe to show."""


def _require(actor: Actor, organization: Organization, capability: Capability) -> None:
    if organization.plan != Plan.ENTERPRISE:
        raise SSOError("Single Sign-On is part of the Enterprise plan.")
    if actor.user is None:
        return  # the system (tasks) acts with full rights
    role = membership_role(organization, actor.user)
    if role is None or not role_can(role, capability):
        raise PermissionDenied("Your role in this organization does not allow this.")


def _connection_snapshot(connection: Connection) -> dict:
    if connection.is_saml:
        return saml_snapshot(connection)
    return {
        "name": connection.name,
        "issuer_url": connection.issuer_url,
        "client_id": connection.client_id,
        "client_secret": f"…{connection.client_secret_last4}",
        "scopes": connection.scopes,
        "tested": connection.tested_at is not None,
    }


# --- connections --------------------------------------------------------------------------------


def discovery_check(issuer_url: str) -> dict:
    """Fetch the IdP's discovery document (outside any transaction); SSOError says what is wrong."""
    url = issuer_url.rstrip("/") + "/.well-known/openid-configuration"
    try:
        response = requests.get(url, timeout=settings.SSO_HTTP_TIMEOUT_SECONDS)
        response.raise_for_status()
        document = response.json()
    except (requests.RequestException, ValueError) as error:
        raise SSOError(f"The issuer's discovery document at {url} could not be read.") from error
    missing = [
        key
        for key in ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri")
        if not document.get(key)
    ]
    if missing:
        raise SSOError(f"The discovery document lacks {', '.join(missing)}.")
    if document["issuer"].rstrip("/") != issuer_url.rstrip("/"):
        raise SSOError(
            f"The discovery document names the issuer {document['issuer']}, not {issuer_url}."
        )
    return document


def connection_save(
    *,
    actor: Actor,
    organization: Organization,
    name: str,
    issuer_url: str,
    client_id: str,
    client_secret: str,
    scopes: str,
    connection: Connection | None = None,
    discover: Callable[[str], dict] | None = None,
) -> Connection:
    """Create an OIDC connection, or change one (an empty secret keeps the stored one).

    A change of issuer, client id or secret needs a new successful test before it counts.
    `discover` reads the issuer's discovery document (default: fetched from the issuer; the
    demo, which runs no identity provider, answers it itself)."""
    _require(actor, organization, Capability.MANAGE_SSO)
    if connection is None and not client_secret:
        raise SSOError("Enter the client secret the identity provider gave you.")
    if "openid" not in scopes.split():
        raise SSOError('The scopes must include "openid".')
    (discover or discovery_check)(issuer_url)
    with transaction.atomic():
        sso_settings = settings_of(organization)
        if connection is not None:
            connection = Connection.objects.select_for_update().get(pk=connection.pk)
        before = _connection_snapshot(connection) if connection else None
        connection = connection or Connection(organization=organization)
        identity_changed = (connection.issuer_url, connection.client_id) != (
            issuer_url,
            client_id,
        ) or bool(client_secret)
        if identity_changed and sso_settings.enforced and only_tested_connection(connection):
            raise SSOError(
                "This is the only tested connection while SSO is enforced. Add and test another "
                "connection, or turn enforcement off, before changing it."
            )
        connection.name, connection.issuer_url = name, issuer_url
        connection.client_id, connection.scopes = client_id, scopes
        if client_secret:
            connection.client_secret_encrypted = crypto.encrypt(client_secret)
            connection.client_secret_last4 = client_secret[-4:]
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


def connection_delete(*, actor: Actor, organization: Organization, connection: Connection) -> None:
    _require(actor, organization, Capability.MANAGE_SSO)
    with transaction.atomic():
        if settings_of(organization).enforced and only_tested_connection(connection):
            raise SSOError(
                "SSO is enforced and this is its only tested connection: turn enforcement off "
                "first, or nobody from your domains could sign in."
            )
        before = _connection_snapshot(connection)
        connection.delete()
        audit_record(
            actor=actor,
            action="sso.connection_deleted",
            organization=organization,
            target_label=before["name"],
            before=before,
        )


def test_login_record(*, actor: Actor, connection: Connection, identity: dict) -> Connection:
    """The owner's test login through the IdP succeeded: keep what the IdP sent."""
    with transaction.atomic():
        connection = Connection.objects.select_for_update().get(pk=connection.pk)
        connection.tested_at = timezone.now()
        connection.test_identity = identity
        connection.save(update_fields=["tested_at", "test_identity", "updated_at"])
        audit_record(
            actor=actor,
            action="sso.connection_tested",
            organization=connection.organization,
            target=connection,
            target_label=connection.name,
            after={"identity": identity},
        )
    return connection


# --- domains ------------------------------------------------------------------------------------


def domain_claim(*, actor: Actor, organization: Organization, name: str) -> Domain:
    _require(actor, organization, Capability.MANAGE_SSO)
    name = name.strip().lower().rstrip(".")
    if not DOMAIN_RE.match(name):
        raise SSOError(f"{name or 'That'} is not a domain name such as example.org.")
    if name in PUBLIC_MAIL_DOMAINS:
        raise SSOError(f"{name} is a public email provider; claim your own company's domain.")
    if Domain.objects.filter(name=name, status=DomainStatus.VERIFIED).exists():
        raise SSOError(f"{name} is already verified by another organization.")
    with transaction.atomic():
        domain, created = Domain.objects.get_or_create(
            organization=organization,
            name=name,
            defaults={
                "verification_token": secrets.token_urlsafe(24),
                "expires_at": timezone.now() + timedelta(days=DOMAIN_PROOF_DAYS),
            },
        )
        if not created and domain.status == DomainStatus.EXPIRED:
            domain.status = DomainStatus.PENDING
            domain.expires_at = timezone.now() + timedelta(days=DOMAIN_PROOF_DAYS)
            domain.save(update_fields=["status", "expires_at"])
        elif not created:
            raise SSOError(f"{name} is already claimed by this organization.")
        audit_record(
            actor=actor,
            action="sso.domain_claimed",
            organization=organization,
            target=domain,
            target_label=name,
            after={"status": domain.status, "record": domain.record_name},
        )
        transaction.on_commit(lambda: enqueue("sso.tasks.check_domain", domain.pk))
    return domain


def domain_check(domain_id: int) -> str:
    """Look for the TXT record (outside the transaction), then record the outcome. Idempotent."""
    domain = Domain.objects.select_related("organization").filter(pk=domain_id).first()
    if domain is None or domain.status != DomainStatus.PENDING:
        return domain.status if domain else "gone"
    found = domain.record_value in dns.txt_values(domain.record_name)
    now = timezone.now()
    try:
        with transaction.atomic():
            locked = Domain.objects.select_for_update().get(pk=domain.pk)
            if locked.status != DomainStatus.PENDING:
                return locked.status
            locked.checked_at = now
            if found:
                locked.status, locked.verified_at = DomainStatus.VERIFIED, now
            elif now >= locked.expires_at:
                locked.status = DomainStatus.EXPIRED
            locked.save(update_fields=["checked_at", "status", "verified_at"])
            if locked.status != DomainStatus.PENDING:
                audit_record(
                    actor=Actor.system(),
                    action=f"sso.domain_{locked.status}",
                    organization=locked.organization,
                    target=locked,
                    target_label=locked.name,
                    before={"status": DomainStatus.PENDING},
                    after={"status": locked.status},
                )
            return locked.status
    except IntegrityError:
        # Another organization's claim was verified first: the domain is theirs.
        Domain.objects.filter(pk=domain.pk).update(status=DomainStatus.EXPIRED, checked_at=now)
        return DomainStatus.EXPIRED


def pending_domain_ids() -> list[int]:
    return list(Domain.objects.filter(status=DomainStatus.PENDING).values_list("pk", flat=True))


def domain_remove(*, actor: Actor, organization: Organization, domain: Domain) -> None:
    _require(actor, organization, Capability.MANAGE_SSO)
    with transaction.atomic():
        sso_settings = settings_of(organization)
        if (
            sso_settings.enforced
            and domain.status == DomainStatus.VERIFIED
            and verified_domain_names(organization) == {domain.name}
        ):
            raise SSOError("Turn enforcement off before removing the last verified domain.")
        before = {"name": domain.name, "status": domain.status}
        domain.delete()
        audit_record(
            actor=actor,
            action="sso.domain_removed",
            organization=organization,
            target_label=before["name"],
            before=before,
        )


# --- enforcement and provisioning ---------------------------------------------------------------


def enforcement_set(
    *, actor: Actor, organization: Organization, enforced: bool, admin_group: str = ""
) -> Settings:
    _require(actor, organization, Capability.MANAGE_SSO)
    if enforced and not connections_of(organization).exclude(tested_at=None).exists():
        raise SSOError("Test a connection successfully before enforcing SSO.")
    if enforced and not verified_domain_names(organization):
        raise SSOError("Verify at least one domain before enforcing SSO.")
    with transaction.atomic():
        sso_settings, _ = Settings.objects.select_for_update().get_or_create(
            organization=organization
        )
        before = {"enforced": sso_settings.enforced, "admin_group": sso_settings.admin_group}
        newly_enforced = enforced and not sso_settings.enforced
        if newly_enforced:
            sso_settings.enforced_at = timezone.now()
        sso_settings.enforced = enforced
        sso_settings.admin_group = admin_group.strip()[:255]
        sso_settings.save()
        ended = _end_password_sessions(organization, keep=actor) if newly_enforced else 0
        audit_record(
            actor=actor,
            action="sso.enforcement_changed",
            organization=organization,
            target_label="SSO settings",
            before=before,
            after={
                "enforced": enforced,
                "admin_group": sso_settings.admin_group,
                **({"sessions_ended": ended} if ended else {}),
            },
        )
    return sso_settings


def _end_password_sessions(organization: Organization, *, keep: Actor) -> int:
    """End the sessions of everyone SSO now binds (verified domains, owners excepted): they sign
    in again through the IdP. allauth.usersessions knows every session of a user, so this is
    done once here instead of being checked on every request."""
    from allauth.usersessions.models import UserSession

    in_domains = Q()
    for domain in verified_domain_names(organization):
        in_domains |= Q(user__email__iendswith=f"@{domain}")
    if not in_domains:
        return 0
    owners = Membership.objects.filter(organization=organization, role=Role.OWNER)
    sessions = (
        UserSession.objects.filter(in_domains)
        .exclude(user_id__in=owners.values("user_id"))
        .exclude(user_id=getattr(keep.user, "pk", None))
    )
    ended = 0
    for session in sessions.iterator():
        session.end()
        ended += 1
    return ended


@dataclass(frozen=True)
class Provisioned:
    membership: Membership | None
    waiting: bool = False


def login_provision(*, connection: Connection, user: object, groups: list[str]) -> Provisioned:
    """After an SSO login: the user is a member, or joins with the default role when a seat is
    free, or waits for one (owners are told). Never over-allocates."""
    organization = connection.organization
    sso_settings = settings_of(organization)
    existing = Membership.objects.filter(organization=organization, user=user).first()
    if existing is not None:
        return Provisioned(existing)
    role = (
        Role.ADMIN
        if sso_settings.admin_group and sso_settings.admin_group in groups
        else Role.MEMBER
    )
    actor = Actor(user=user)
    try:
        with transaction.atomic():
            membership = organization_services.membership_provision(
                actor=actor, organization=organization, user=user, role=role, via=connection.name
            )
            SeatRequest.objects.filter(organization=organization, email=user.email).update(
                fulfilled_at=timezone.now()
            )
        return Provisioned(membership)
    except organization_services.SeatLimitReached:
        with transaction.atomic():
            request, created = SeatRequest.objects.get_or_create(
                organization=organization,
                email=user.email,
                defaults={"name": getattr(user, "name", "")},
            )
            if not created and request.fulfilled_at is None:
                return Provisioned(None, waiting=True)
            request.fulfilled_at = None
            request.save(update_fields=["fulfilled_at"])
            audit_record(
                actor=actor,
                action="sso.seat_requested",
                organization=organization,
                target_label=user.email,
                after={"waiting": True},
            )
            transaction.on_commit(
                lambda: enqueue("sso.tasks.send_seat_waiting_email", organization.pk)
            )
        return Provisioned(None, waiting=True)


def login_succeeded_record(*, connection: Connection, user: object) -> None:
    with transaction.atomic():
        audit_record(
            actor=Actor(user=user),
            action="sso.login_succeeded",
            organization=connection.organization,
            target=connection,
            target_label=user.email,
            after={"connection": connection.name, "protocol": connection.protocol},
        )


def login_refused_record(*, connection: Connection, email: str, reason: str) -> None:
    with transaction.atomic():
        audit_record(
            actor=Actor.system(),
            action="sso.login_refused",
            organization=connection.organization,
            target=connection,
            target_label=email or "(no email)",
            after={"reason": reason, "domain": email_domain(email) if email else ""},
        )
