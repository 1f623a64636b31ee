"""Who may use each SSO URL, in the access matrix's world (Acme, a Teams organization): the tab
shows owners and admins an upgrade panel; everything else is refused on Teams, even to owners.
tests/sso/test_access.py proves the Enterprise side of the same URLs."""

from datetime import timedelta
from types import SimpleNamespace

from django.utils import timezone

from sso import crypto
from sso.models import Connection, Domain

TEAMS_GET = {"sso_tab": (200, 200, 403)}
REFUSED_ON_TEAMS_GET = (
    "sso_connection_create",
    "sso_connection_edit",
    "sso_saml_connection_create",
    "sso_saml_connection_edit",
    "sso_saml_sp_certificate_replace",
    "sso_connection_delete",
    "sso_connection_test",
    "sso_connection_test_result",
)
REFUSED_ON_TEAMS_POST = (
    "sso_connection_create",
    "sso_connection_edit",
    "sso_saml_connection_create",
    "sso_saml_connection_edit",
    "sso_saml_sp_certificate_replace",
    "sso_connection_delete",
    "sso_domain_claim",
    "sso_domain_check",
    "sso_domain_remove",
    "sso_enforcement",
)


def _connection(world: SimpleNamespace) -> object:
    connection, _ = Connection.objects.get_or_create(
        organization=world.org,
        name="Okta",
        defaults={
            "issuer_url": "https://acme.okta.test",
            "client_id": "kilo",
            "client_secret_encrypted": crypto.encrypt("a-secret-value"),
            "client_secret_last4": "alue",
        },
    )
    return connection.public_id


def _domain(world: SimpleNamespace) -> object:
    domain, _ = Domain.objects.get_or_create(
        organization=world.org,
        name="acme.test",
        defaults={"verification_token": "t", "expires_at": timezone.now() + timedelta(days=7)},
    )
    return domain.public_id


PATH_PARAMS = {"connection_id": _connection, "domain_id": _domain}


def matrix_specs(spec_cls, row_cls) -> dict:  # noqa: ANN001
    specs = {}
    for name, (owner, admin, member) in TEAMS_GET.items():
        specs[name] = spec_cls(get=row_cls(owner=owner, admin=admin, member=member))
    refused = row_cls(owner=403, admin=403, member=403)
    for name in dict.fromkeys((*REFUSED_ON_TEAMS_GET, *REFUSED_ON_TEAMS_POST)):  # ordered
        specs[name] = spec_cls(
            get=refused if name in REFUSED_ON_TEAMS_GET else None,
            post=refused if name in REFUSED_ON_TEAMS_POST else None,
        )
    return specs
