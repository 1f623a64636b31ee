"""The one access gate for every organization-scoped view.

404 when the caller is not a member (an outsider learns nothing, not even that the slug exists),
403 when the caller is a member whose role lacks the capability.
"""

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse

from .models import Membership, Organization
from .permissions import Capability, role_can


@dataclass(frozen=True)
class OrgAccess:
    organization: Organization
    membership: Membership

    @property
    def role(self) -> str:
        return self.membership.role

    def can(self, capability: Capability | str) -> bool:
        return role_can(self.membership.role, Capability(capability))


def resolve_org_access(request: HttpRequest, slug: str) -> OrgAccess:
    membership = (
        Membership.objects.select_related("organization")
        .filter(organization__slug=slug, user_id=request.user.pk)
        .first()
    )
    if membership is None:
        raise Http404("No such organization.")
    return OrgAccess(organization=membership.organization, membership=membership)


def org_view(capability: Capability = Capability.VIEW_ORGANIZATION) -> Callable:
    """Decorate a view taking (request, access, **kwargs); the URL carries `org_slug`."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapped(request: HttpRequest, org_slug: str, **kwargs: object) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            access = resolve_org_access(request, org_slug)
            if not access.can(capability):
                raise PermissionDenied("Your role in this organization does not allow this.")
            request.org_access = access  # type: ignore[attr-defined]
            return view(request, access, **kwargs)

        wrapped.org_capability = capability  # type: ignore[attr-defined]
        return wrapped

    return decorator
