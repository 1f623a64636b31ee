"""Billing emails, one function each (templates under templates/emails/billing_*)."""

from django.conf import settings
from django.urls import reverse

from organizations.emails import send_templated
from organizations.models import Membership, Organization, Role

from .models import AutoTopUp, LowBalanceAlert


def _owner_emails(organization: Organization) -> list[str]:
    return list(
        Membership.objects.filter(organization=organization, role=Role.OWNER).values_list(
            "user__email", flat=True
        )
    )


def _billing_url(organization: Organization) -> str:
    return settings.SITE_URL + reverse("billing_tab", args=[organization.slug])


def send_low_balance(organization_id: int, balance_microdollars: int) -> None:
    organization = Organization.objects.get(pk=organization_id)
    alert = LowBalanceAlert.objects.get(organization=organization)
    recipients = alert.recipients or _owner_emails(organization)
    send_templated(
        "billing_low_balance",
        recipients,
        {
            "organization": organization,
            "balance": balance_microdollars,
            "threshold": alert.threshold_microdollars,
            "billing_url": _billing_url(organization),
        },
        time_zone=organization.time_zone,
    )


def send_auto_top_up_failed(organization_id: int) -> None:
    organization = Organization.objects.get(pk=organization_id)
    top_up = AutoTopUp.objects.get(organization=organization)
    send_templated(
        "billing_auto_top_up_failed",
        _owner_emails(organization),
        {
            "organization": organization,
            "reason": top_up.disabled_reason,
            "billing_url": _billing_url(organization),
        },
        time_zone=organization.time_zone,
    )
