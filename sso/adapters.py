"""django-allauth, taught about per-organization SSO.

- Social side: every SSO connection is an `openid_connect` app of its own (provider_id
  `kilo-<uuid>`), built from our rows with the secret decrypted on use, never stored in allauth's
  SocialApp table. A login through it is accepted only for emails in the organization's verified
  domains; a test login (from the SSO tab) records what the IdP sent instead of signing in.
- Account side: password login and password reset are refused for addresses whose organization
  enforces SSO, except for that organization's owners (their recovery path, README).
"""

from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.models import SocialApp, SocialLogin
from django import forms
from django.contrib import messages
from django.http import HttpRequest
from django.shortcuts import redirect, render

from accounts.adapter import AccountAdapter as BaseAccountAdapter
from organizations.models import Membership, Role

from . import crypto, selectors, services
from .models import Connection

TEST_SESSION_KEY = "sso_test_connection"
WAITING_SESSION_KEY = "sso_waiting_for_seat"
OIDC = "openid_connect"


def social_app_for(connection: Connection) -> SocialApp:
    return SocialApp(
        provider=OIDC,
        provider_id=connection.provider_id,
        name=connection.name,
        client_id=connection.client_id,
        secret=crypto.decrypt(connection.client_secret_encrypted),
        settings={
            "server_url": connection.issuer_url,
            "oauth_pkce_enabled": True,  # binds the code to this browser's login
            "scope": connection.scopes.split(),
        },
    )


def enforcement_refusal(email: str) -> str:
    """Why this address may not use a password, or "" when it may."""
    organization = selectors.enforcing_organization_for_email(email or "")
    if organization is None:
        return ""
    is_owner = Membership.objects.filter(
        organization=organization, user__email__iexact=email, role=Role.OWNER
    ).exists()
    if is_owner:
        return ""  # owners keep password (and MFA) login: the way back if the IdP breaks
    return (
        f"{organization.name} requires signing in with Single Sign-On for "
        f"@{selectors.email_domain(email)} addresses. Use “Continue with SSO”."
    )


class AccountAdapter(BaseAccountAdapter):
    """accounts' adapter (what an invitation link proves) plus SSO enforcement."""

    def pre_authenticate(self, request: HttpRequest, **credentials: object) -> None:
        refusal = enforcement_refusal(str(credentials.get("email") or ""))
        if refusal:
            raise forms.ValidationError(refusal)
        super().pre_authenticate(request, **credentials)


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def list_apps(self, request: HttpRequest, provider=None, client_id=None) -> list[SocialApp]:  # noqa: ANN001
        if provider not in (None, OIDC) and not str(provider).startswith("kilo-"):
            return super().list_apps(request, provider=provider, client_id=client_id)
        if provider in (None, OIDC):
            connections = Connection.objects.all()
        else:
            found = selectors.connection_by_provider_id(provider)
            connections = [found] if found else []
        apps = [social_app_for(c) for c in connections]
        return [app for app in apps if client_id is None or app.client_id == client_id]

    def populate_user(self, request: HttpRequest, sociallogin: SocialLogin, data: dict):  # noqa: ANN201
        user = super().populate_user(request, sociallogin, data)
        full_name = " ".join(p for p in (data.get("first_name"), data.get("last_name")) if p)
        user.name = (data.get("name") or full_name or "")[:150]
        return user

    def is_auto_signup_allowed(self, request: HttpRequest, sociallogin: SocialLogin) -> bool:
        return True

    def is_email_verified(self, provider, email: str) -> bool:  # noqa: ANN001
        # Only reached after pre_social_login accepted the address: its domain is verified.
        return True

    def can_authenticate_by_email(self, login: SocialLogin, email: str) -> bool:
        return True

    def pre_social_login(self, request: HttpRequest, sociallogin: SocialLogin) -> None:
        connection = selectors.connection_by_provider_id(sociallogin.account.provider)
        if connection is None:
            raise ImmediateHttpResponse(redirect("account_login"))
        email = (sociallogin.user.email or "").strip().lower()
        identity = _identity(sociallogin)
        if request.session.get(TEST_SESSION_KEY) == connection.public_id.hex:
            del request.session[TEST_SESSION_KEY]
            services.test_login_record(
                actor=services.Actor.from_request(request), connection=connection, identity=identity
            )
            messages.success(request, f"Test login through {connection.name} succeeded.")
            raise ImmediateHttpResponse(
                redirect(
                    "sso_connection_test_result", connection.organization.slug, connection.public_id
                )
            )
        verified = selectors.verified_domain_names(connection.organization)
        if not email or selectors.email_domain(email) not in verified:
            reason = "no email" if not email else "domain not verified"
            services.login_refused_record(connection=connection, email=email, reason=reason)
            raise ImmediateHttpResponse(
                render(
                    request,
                    "sso/login_refused.html",
                    {
                        "organization": connection.organization,
                        "email": email,
                        "domains": sorted(verified),
                    },
                    status=403,
                )
            )
        request.session["sso_connection"] = connection.public_id.hex
        request.session["sso_groups"] = identity.get("groups") or []


def _identity(sociallogin: SocialLogin) -> dict:
    """What the IdP said, for the test result and provisioning (claims, not tokens)."""
    data = sociallogin.account.extra_data or {}
    claims = {**(data.get("userinfo") or {}), **(data.get("id_token") or {})}
    keep = ("sub", "email", "email_verified", "name", "given_name", "family_name", "groups", "iss")
    return {key: claims[key] for key in keep if key in claims}
