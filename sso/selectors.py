"""Reads for the SSO tab, the login routing and the enforcement checks."""

from django.db.models import QuerySet

from organizations.models import Organization

from .models import Connection, Domain, DomainStatus, Settings


def email_domain(email: str) -> str:
    return email.rpartition("@")[2].strip().lower()


def connections_of(organization: Organization) -> QuerySet[Connection]:
    return Connection.objects.filter(organization=organization)


def only_tested_connection(connection: Connection) -> bool:
    """The connection is its organization's only tested one: enforcement relies on it."""
    others = connections_of(connection.organization).exclude(pk=connection.pk)
    return connection.tested_at is not None and not others.exclude(tested_at=None).exists()


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
