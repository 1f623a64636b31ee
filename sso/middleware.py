"""End password sessions opened before the user's organization turned SSO enforcement on.

API and ingest keys are not sessions and keep working. Owners are exempt (their recovery path).
"""

from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from .adapters import enforcement_refusal
from .receivers import AUTH_AT_SESSION_KEY
from .selectors import email_domain, enforced_at_for_domain, enforcing_organization_for_email


class SSOEnforcementMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and not request.session.get("sso_login"):
            enforced_at = enforced_at_for_domain(email_domain(user.email))  # cached: no query
            opened = request.session.get(AUTH_AT_SESSION_KEY, 0)
            if enforced_at is not None and opened < enforced_at and enforcement_refusal(user.email):
                organization = enforcing_organization_for_email(user.email)
                if organization is not None:
                    logout(request)
                    messages.info(
                        request,
                        f"{organization.name} now requires Single Sign-On. Sign in again with SSO.",
                    )
                    return redirect("account_login")
        return self.get_response(request)
