"""Template hooks other apps' templates use: the past-due banner and the billing history rows."""

from django import template

from organizations.permissions import Capability, role_can

from .. import selectors

register = template.Library()


@register.simple_tag(takes_context=True)
def past_due_subscription(context: template.Context):  # noqa: ANN201
    """The org's subscription when its payment failed, for owners and admins; else None."""
    organization = context.get("current_org")
    membership = context.get("current_membership")
    if organization is None or membership is None:
        return None
    if not role_can(membership.role, Capability.VIEW_BILLING):
        return None
    return selectors.payment_problem(organization)


@register.inclusion_tag("subscriptions/_billing_history.html")
def subscription_purchase_history(organization, kind="", date_from=None, date_to=None) -> dict:  # noqa: ANN001
    changes = selectors.billing_history(
        organization, kind=kind or "", date_from=date_from, date_to=date_to
    )
    return {"org": organization, "changes": changes, "filtered": bool(kind or date_from or date_to)}
