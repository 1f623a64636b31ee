from django.http import HttpRequest
from django.urls import reverse

from .tabs import TABS


def navigation(request: HttpRequest) -> dict:
    """The tab bar for the current organization (set by the access gate), if any."""
    access = getattr(request, "org_access", None)
    if access is None:
        return {}
    slug = access.organization.slug
    return {
        "current_org": access.organization,
        "current_membership": access.membership,
        "nav_tabs": [
            {
                "key": tab.key,
                "label": tab.label,
                "url": reverse(tab.url_name, args=[slug]),
                "enterprise_only": tab.enterprise_only,
            }
            for tab in TABS
            if not tab.capability or access.can(tab.capability)
        ],
    }
