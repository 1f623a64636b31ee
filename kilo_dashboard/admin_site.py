"""The Django admin behind allauth's sign-in, and only for staff who use two-factor authentication.

Django's own admin login checks a password with no rate limit and no second factor, while staff
can refund and create promotion codes. So (django-allauth's documented admin integration) the
admin's login page sends everyone to allauth's sign-in, which applies ACCOUNT_RATE_LIMITS
(login, login_failed) and the MFA step; and the admin opens only to staff with an authenticator,
sending the others to set one up first.
"""

from allauth.account.decorators import secure_admin_login
from allauth.mfa.utils import is_mfa_enabled
from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect


class KiloAdminSite(admin.AdminSite):
    site_header = "Kilo Teams staff"

    def has_permission(self, request: HttpRequest) -> bool:
        return super().has_permission(request) and is_mfa_enabled(request.user)

    def login(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        user = request.user
        if user.is_authenticated and user.is_active and user.is_staff:
            if not is_mfa_enabled(user):
                messages.warning(
                    request, "Set up two-factor authentication before opening the staff admin."
                )
                return redirect("mfa_activate_totp")
            return redirect("admin:index")
        # Anonymous: allauth's sign-in (rate limits, MFA), then back here; signed-in non-staff: 403.
        return secure_admin_login(super().login)(request, extra_context)
