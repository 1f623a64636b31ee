"""What each role may do. Views ask for a capability, never for a role."""

from enum import StrEnum

from .models import Role


class Capability(StrEnum):
    VIEW_ORGANIZATION = "view_organization"
    MANAGE_MEMBERS = "manage_members"  # invite, resend, revoke, remove members
    EDIT_POLICIES = "edit_policies"  # data-collection toggles
    EDIT_SETTINGS = "edit_settings"  # rename, time zone, billing email
    TRANSFER_OWNERSHIP = "transfer_ownership"
    VIEW_ALL_USAGE = "view_all_usage"
    VIEW_BILLING = "view_billing"
    MANAGE_BILLING = "manage_billing"
    ADD_SEATS = "add_seats"
    MANAGE_PLAN = "manage_plan"
    MANAGE_INGEST_KEYS = "manage_ingest_keys"  # usage API keys
    VIEW_SSO = "view_sso"  # the SSO tab, read-only
    MANAGE_SSO = "manage_sso"  # SSO connections, domains, enforcement (owners)
    VIEW_AUDIT_LOG = "view_audit_log"  # the Audit logs tab and its exports


_ADMIN = {
    Capability.VIEW_ORGANIZATION,
    Capability.MANAGE_MEMBERS,
    Capability.EDIT_POLICIES,
    Capability.VIEW_ALL_USAGE,
    Capability.VIEW_BILLING,
    Capability.ADD_SEATS,
    Capability.MANAGE_INGEST_KEYS,
    Capability.VIEW_SSO,
    Capability.VIEW_AUDIT_LOG,
}
ROLE_CAPABILITIES: dict[str, frozenset[Capability]] = {
    Role.OWNER: frozenset(Capability),
    Role.ADMIN: frozenset(_ADMIN),
    Role.MEMBER: frozenset({Capability.VIEW_ORGANIZATION}),
}


def role_can(role: str, capability: Capability) -> bool:
    return capability in ROLE_CAPABILITIES.get(role, frozenset())
