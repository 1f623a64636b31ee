"""The dashboard's tabs, in order. base.html renders the bar from this list.

A tab is listed once its app exists; Enterprise-only tabs show to every plan (with an upgrade
panel on Teams), as the product description asks.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Tab:
    key: str
    label: str
    url_name: str
    enterprise_only: bool = False
    # Hidden from roles without this capability (organizations.permissions.Capability value).
    capability: str = ""


TABS: tuple[Tab, ...] = (
    Tab("organization", "Organization", "organization_tab"),
    Tab("usage", "Usage", "usage_tab"),
    Tab("billing", "Billing", "billing_tab", capability="view_billing"),
    Tab("subscriptions", "Subscriptions", "subscriptions_tab"),
    Tab("providers", "Providers & models", "providers_tab", enterprise_only=True),
    Tab("sso", "Single Sign-On", "sso_tab", enterprise_only=True, capability="view_sso"),
    Tab("audit", "Audit logs", "audit_tab", enterprise_only=True, capability="view_audit_log"),
)
