"""The catalogue of audit actions: every action that may be recorded, with a label and a category.

`audit_record()` refuses an action that is not registered here, so the Audit logs tab can always
show a readable label and filter by category. The stored value is the dotted string (e.g.
"member.removed"); call sites pass that string. To add an action, add one `register(...)` line
in its category's block below.

This module imports nothing from the other apps (audit sits below them): the subscription change
kinds are spelled out here, and tests/audit/test_actions.py proves they match
`subscriptions.models.ChangeKind`.
"""

from dataclasses import dataclass
from enum import StrEnum


class Category(StrEnum):
    ORGANIZATION = "organization"
    MEMBERS = "members"
    ROLES = "roles"
    INVITATIONS = "invitations"
    SEATS_AND_PLAN = "seats_and_plan"
    BILLING = "billing"
    USAGE_KEYS = "usage_keys"
    POLICIES = "policies"
    MODEL_POLICY = "model_policy"
    SSO = "sso"
    AUTHENTICATION = "authentication"
    EXPORTS = "exports"

    @property
    def label(self) -> str:
        return CATEGORY_LABELS[self]


CATEGORY_LABELS: dict[Category, str] = {
    Category.ORGANIZATION: "Organization",
    Category.MEMBERS: "Members",
    Category.ROLES: "Roles",
    Category.INVITATIONS: "Invitations",
    Category.SEATS_AND_PLAN: "Seats and plan",
    Category.BILLING: "Billing and payments",
    Category.USAGE_KEYS: "Usage keys",
    Category.POLICIES: "Policies",
    Category.MODEL_POLICY: "Model policy",
    Category.SSO: "SSO",
    Category.AUTHENTICATION: "Authentication",
    Category.EXPORTS: "Exports and downloads",
}


@dataclass(frozen=True)
class Action:
    value: str
    label: str
    category: Category

    def __str__(self) -> str:
        return self.value


class UnknownAuditAction(ValueError):
    """An action that is not in the catalogue: register it in audit/actions.py."""


CATALOGUE: dict[str, Action] = {}


def register(value: str, label: str, category: Category) -> Action:
    if value in CATALOGUE:
        raise ValueError(f"Audit action {value!r} is registered twice.")
    if len(value) > 64:  # AuditEvent.action's max_length
        raise ValueError(f"Audit action {value!r} is longer than 64 characters.")
    CATALOGUE[value] = action = Action(value, label, category)
    return action


def get_action(value: str) -> Action:
    try:
        return CATALOGUE[value]
    except KeyError:
        raise UnknownAuditAction(
            f"{value!r} is not an audit action; register it in audit/actions.py."
        ) from None


def label_of(value: str) -> str:
    """The label for display; an action dropped from the catalogue since shows as stored."""
    action = CATALOGUE.get(value)
    return action.label if action else value


def actions_in(category: Category | str) -> list[str]:
    return [a.value for a in CATALOGUE.values() if a.category == category]


# --- Organization -------------------------------------------------------------------------------
register("organization.created", "Organization created", Category.ORGANIZATION)
register("organization.settings_updated", "Organization settings changed", Category.ORGANIZATION)
register("organization.ownership_transferred", "Ownership transferred", Category.ORGANIZATION)
register("audit.retention_changed", "Audit log retention changed", Category.ORGANIZATION)
register("audit.events_pruned", "Audit events past retention removed", Category.ORGANIZATION)

# --- Members and roles --------------------------------------------------------------------------
register("member.joined", "Member joined", Category.MEMBERS)
register("member.removed", "Member removed", Category.MEMBERS)
register("member.left", "Member left", Category.MEMBERS)
register("member.role_changed", "Role changed", Category.ROLES)
register("member.restored", "Member removal undone", Category.MEMBERS)
register("member.provisioned", "Member joined through SSO", Category.MEMBERS)
register("account.name_changed", "Name changed", Category.MEMBERS)

# --- Invitations --------------------------------------------------------------------------------
register("invitation.created", "Invitation sent", Category.INVITATIONS)
register("invitation.resent", "Invitation resent", Category.INVITATIONS)
register("invitation.revoked", "Invitation revoked", Category.INVITATIONS)
register("invitation.accepted", "Invitation accepted", Category.INVITATIONS)
register("invitation.expired", "Invitation expired", Category.INVITATIONS)

# --- Seats and plan (subscriptions.services.record_change writes "subscription.<ChangeKind>") ----
register("subscription.subscribed", "Subscribed", Category.SEATS_AND_PLAN)
register("subscription.seats_added", "Seats added", Category.SEATS_AND_PLAN)
register("subscription.seats_removal_scheduled", "Seat removal scheduled", Category.SEATS_AND_PLAN)
register("subscription.seats_removed", "Seats removed", Category.SEATS_AND_PLAN)
register(
    "subscription.interval_change_scheduled",
    "Billing frequency change scheduled",
    Category.SEATS_AND_PLAN,
)
register("subscription.interval_changed", "Billing frequency changed", Category.SEATS_AND_PLAN)
register("subscription.upgraded", "Plan upgraded", Category.SEATS_AND_PLAN)
register("subscription.downgrade_scheduled", "Downgrade scheduled", Category.SEATS_AND_PLAN)
register("subscription.downgraded", "Plan downgraded", Category.SEATS_AND_PLAN)
register("subscription.schedule_cleared", "Scheduled change withdrawn", Category.SEATS_AND_PLAN)
register("subscription.cancel_scheduled", "Cancellation scheduled", Category.SEATS_AND_PLAN)
register("subscription.cancel_undone", "Cancellation withdrawn", Category.SEATS_AND_PLAN)
register("subscription.ended", "Subscription ended", Category.SEATS_AND_PLAN)
register("subscription.payment_failed", "Subscription payment failed", Category.SEATS_AND_PLAN)
register("subscription.reconciled", "Subscription corrected from Stripe", Category.SEATS_AND_PLAN)
register(
    "subscription.change_reversed",
    "Paid change reversed (refunded, Stripe restored)",
    Category.SEATS_AND_PLAN,
)

# --- Billing and payments -----------------------------------------------------------------------
register("billing.details_updated", "Billing details changed", Category.BILLING)
register("billing.card_added", "Card added", Category.BILLING)
register("billing.card_updated", "Card details changed", Category.BILLING)
register("billing.card_default_set", "Default card changed", Category.BILLING)
register("billing.card_removed", "Card removed", Category.BILLING)
register("billing.payment_started", "Payment started", Category.BILLING)
register("billing.payment_succeeded", "Payment succeeded", Category.BILLING)
register("billing.payment_status_changed", "Payment status changed", Category.BILLING)
register("billing.refund_recorded", "Refund recorded", Category.BILLING)
register("billing.refund_requested", "Refund requested", Category.BILLING)
register("billing.refund_released", "Refund refused, amount released", Category.BILLING)
register(
    "billing.refund_beyond_balance",
    "Refund beyond the unspent credit (staff, with a reason)",
    Category.BILLING,
)
register("billing.promotion_redeemed", "Promotional credit redeemed", Category.BILLING)
register("billing.low_balance_alert_updated", "Low-balance alert changed", Category.BILLING)
register("billing.auto_top_up_updated", "Auto top-up changed", Category.BILLING)
register("billing.auto_top_up_disabled", "Auto top-up turned off", Category.BILLING)
register("stripe_event.retried", "Stripe event retried by staff", Category.BILLING)

# --- Usage keys ---------------------------------------------------------------------------------
register("usage.ingest_key.create", "Ingest key created", Category.USAGE_KEYS)
register("usage.ingest_key.revoke", "Ingest key revoked", Category.USAGE_KEYS)

# --- Policies (data collection) -----------------------------------------------------------------
register("organization.policies_updated", "Data-collection policy changed", Category.POLICIES)

# --- Model policy (providers) ---------------------------------------------------------------------
register("providers.policy_updated", "Model policy changed", Category.MODEL_POLICY)
register("providers.models_enabled", "Models enabled", Category.MODEL_POLICY)
register("providers.models_disabled", "Models disabled", Category.MODEL_POLICY)
register("providers.catalog_synced", "Model catalog synced", Category.MODEL_POLICY)

# --- Single Sign-On -------------------------------------------------------------------------------
register("sso.connection_created", "SSO connection added", Category.SSO)
register("sso.connection_changed", "SSO connection changed", Category.SSO)
register("sso.connection_deleted", "SSO connection deleted", Category.SSO)
register("sso.connection_tested", "SSO connection tested", Category.SSO)
register("sso.sp_certificate_replaced", "SSO signing certificate replaced", Category.SSO)
register("sso.domain_claimed", "Domain claimed", Category.SSO)
register("sso.domain_verified", "Domain verified", Category.SSO)
register("sso.domain_expired", "Domain claim expired", Category.SSO)
register("sso.domain_removed", "Domain removed", Category.SSO)
register("sso.enforcement_changed", "SSO enforcement changed", Category.SSO)
register("sso.login_succeeded", "SSO sign-in", Category.SSO)
register("sso.login_refused", "SSO sign-in refused", Category.SSO)
register("sso.seat_requested", "Waiting for a seat after SSO sign-in", Category.SSO)

# --- Authentication -----------------------------------------------------------------------------
register("auth.signed_in", "Signed in", Category.AUTHENTICATION)
register("auth.sign_in_failed", "Sign-in failed", Category.AUTHENTICATION)
register("auth.signed_out", "Signed out", Category.AUTHENTICATION)

# --- Exports and downloads ----------------------------------------------------------------------
register("export.usage_csv", "Usage exported (CSV)", Category.EXPORTS)
register("export.billing_history_csv", "Credit history exported (CSV)", Category.EXPORTS)
register("export.audit_csv", "Audit log exported (CSV)", Category.EXPORTS)
register("export.audit_jsonl", "Audit log exported (JSON Lines)", Category.EXPORTS)
register("document.downloaded", "Document downloaded", Category.EXPORTS)
