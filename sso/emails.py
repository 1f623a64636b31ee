from django.conf import settings
from django.urls import reverse

from organizations.emails import send_templated
from organizations.models import Membership, Organization, Role

from .selectors import waiting_for_seat


def send_seat_waiting(organization_id: int) -> None:
    """Tell the owners how many people signed in through SSO and wait for a seat."""
    organization = Organization.objects.get(pk=organization_id)
    owners = list(
        Membership.objects.filter(organization=organization, role=Role.OWNER).values_list(
            "user__email", flat=True
        )
    )
    waiting = waiting_for_seat(organization)
    if not owners or not waiting:
        return
    send_templated(
        "sso_seat_waiting",
        owners,
        {
            "organization": organization,
            "waiting": waiting,
            "seats_url": settings.SITE_URL + reverse("subscriptions_tab", args=[organization.slug]),
        },
    )
