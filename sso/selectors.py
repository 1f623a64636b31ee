"""Reads for the SSO tab, the login routing and the enforcement checks."""

from django.core.cache import cache
from django.db import transaction
from django.db.models import QuerySet

from organizations.models import Organization

from .models import Connection, Domain, DomainStatus, Settings


def email_domain(email: str) -> str:
    return email.rpartition("@")[2].strip().lower()


def connections_of(organization: Organization) -> QuerySet[Connection]:
    return Connection.objects.filter(organization=organization)


def domains_of(organization: Organization) -> QuerySet[Domain]:
    return Domain.objects.filter(organization=organization)


def settings_of(organization: Organization) -> Settings:
    found = Settings.objects.filter(organization=organization).first()
    return found or Settings(organization=organization)


def verified_domain_names(organization: Organization) -> set[str]:
    return set(
        domains_of(organization).filter(status=DomainStatus.VERIFIED).values_list("name", flat=True)
    )


def connection_by_provider_id(provider_id: str) -> Connection | None:
    prefix = "kilo-"
    if not provider_id.startswith(prefix):
        return None
    hex_id = provider_id.removeprefix(prefix)
    if len(hex_id) != 32 or any(c not in "0123456789abcdef" for c in hex_id):
        return None
    return Connection.objects.select_related("organization").filter(public_id=hex_id).first()


def organization_for_email(email: str) -> Organization | None:
    """The organization that verified this email's domain (one at most, by constraint)."""
    domain = (
        Domain.objects.select_related("organization")
        .filter(name=email_domain(email), status=DomainStatus.VERIFIED)
        .first()
    )
    return domain.organization if domain else None


def sso_connection_for_email(email: str) -> Connection | None:
    """Where "Continue with SSO" sends this address: its organization's tested connection
    (the oldest), or its first one while none has been tested yet."""
    organization = organization_for_email(email)
    if organization is None:
        return None
    connections = connections_of(organization)
    return connections.exclude(tested_at=None).first() or connections.first()


def enforcing_organization_for_email(email: str) -> Organization | None:
    organization = organization_for_email(email)
    if organization is None or not settings_of(organization).enforced:
        return None
    return organization


def waiting_for_seat(organization: Organization) -> int:
    return organization.sso_seat_requests.filter(fulfilled_at=None).count()


ENFORCEMENT_CACHE_SECONDS = 300


def _enforcement_key(domain: str) -> str:
    return f"sso:enforcement:{domain}"


def enforced_at_for_domain(domain: str) -> float | None:
    """When SSO enforcement began for this email domain (a Unix time), or None.

    Read on every signed-in request (sso.middleware), so cached; the services that verify or
    remove a domain or change enforcement forget the entry (`forget_enforcement`)."""
    key = _enforcement_key(domain)
    cached = cache.get(key)
    if cached is None:
        organization = organization_for_email(f"x@{domain}")
        sso_settings = settings_of(organization) if organization else None
        enforced = sso_settings is not None and sso_settings.enforced and sso_settings.enforced_at
        cached = sso_settings.enforced_at.timestamp() if enforced else 0.0
        cache.set(key, cached, ENFORCEMENT_CACHE_SECONDS)
    return cached or None


def forget_enforcement(domains: set[str]) -> None:
    """Called inside the changing transaction: forget now, and again after commit (a request
    between the two may have cached the old state)."""
    keys = [_enforcement_key(domain) for domain in domains]
    cache.delete_many(keys)
    transaction.on_commit(lambda: cache.delete_many(keys))
