"""django-allauth, taught about per-organization SSO.

- Social side: every SSO connection is an allauth app of its own (provider_id `kilo-<uuid>`):
  an `openid_connect` app, or a `saml` app whose allauth organization slug is that same id. The
  apps are built from our rows with secrets decrypted on use, never stored in allauth's SocialApp
  table, and use our provider classes (sso.allauth_providers: OIDC nonce, SAML replay store).
  A login through one is accepted only for emails in the organization's verified domains; a
  test login (from the SSO tab) records what the IdP sent instead of signing in. Every refused
  login (allauth's authentication errors included) is audited.
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

from . import crypto, saml, saml_logout, selectors, services
from .allauth_providers import ConnectionOIDCProvider, ConnectionSAMLProvider, nonce_matches, refuse
from .models import Connection, ConnectionApp, Protocol

TEST_SESSION_KEY = "sso_test_connection"
WAITING_SESSION_KEY = "sso_waiting_for_seat"
OIDC = "openid_connect"
SAML = "saml"


def social_app_for(connection: Connection, *, at_logout_endpoint: bool = False) -> SocialApp:
    if connection.is_saml:
        app = ConnectionApp(
            provider=SAML,
            provider_id=connection.provider_id,
            name=connection.name,
            client_id=connection.provider_id,  # allauth's "organization slug" in the SAML URLs
            settings=saml.app_settings(connection, logout_endpoint=at_logout_endpoint),
        )
        app.provider_class = ConnectionSAMLProvider
        return app
    app = ConnectionApp(
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
    app.provider_class = ConnectionOIDCProvider
    return app


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
    """accounts' adapter (what an invitation link proves) plus SSO enforcement and SAML single
    logout (sso.saml_logout)."""

    def get_logout_redirect_url(self, request: HttpRequest) -> str:
        # allauth's logout view asks before it ends the session: a SAML sign-in is signed out
        # at its IdP too, when the IdP has a single logout service.
        url = saml_logout.idp_logout_url(request, social_app_for)
        return url or super().get_logout_redirect_url(request)

    def pre_authenticate(self, request: HttpRequest, **credentials: object) -> None:
        refusal = enforcement_refusal(str(credentials.get("email") or ""))
        if refusal:
            raise forms.ValidationError(refusal)
        super().pre_authenticate(request, **credentials)


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def list_apps(self, request: HttpRequest, provider=None, client_id=None) -> list[SocialApp]:  # noqa: ANN001
        if provider not in (None, OIDC, SAML) and not str(provider).startswith("kilo-"):
            return super().list_apps(request, provider=provider, client_id=client_id)
        if provider == SAML and client_id:
            found = selectors.connection_by_provider_id(client_id)
            connections = [found] if found and found.is_saml else []
        elif provider in (OIDC, SAML):
            protocol = Protocol.SAML if provider == SAML else Protocol.OIDC
            connections = Connection.objects.filter(protocol=protocol)
        elif provider is None:
            connections = Connection.objects.all()
        else:
            found = selectors.connection_by_provider_id(provider)
            connections = [found] if found else []
        # allauth's single logout endpoint gets apps that accept signed logout messages only.
        match = getattr(request, "resolver_match", None)
        at_sls = getattr(match, "url_name", "") == "saml_sls"
        apps = [social_app_for(c, at_logout_endpoint=at_sls) for c in connections]
        return [app for app in apps if client_id is None or app.client_id == client_id]

    def get_provider(self, request: HttpRequest, provider, client_id=None):  # noqa: ANN001, ANN201
        # allauth builds its own provider class here; ours come from ConnectionApp.
        if provider in (OIDC, SAML) or str(provider).startswith("kilo-"):
            return self.get_app(request, provider=provider, client_id=client_id).get_provider(
                request
            )
        return super().get_provider(request, provider, client_id=client_id)

    def on_authentication_error(  # noqa: ANN201
        self,
        request: HttpRequest,
        provider,
        error=None,
        exception=None,
        extra_context=None,  # noqa: ANN001
    ):
        """allauth refused a login (bad state, invalid SAML response, ...): audit why."""
        connection = selectors.connection_by_provider_id(str(getattr(provider, "sub_id", "")))
        if connection is not None:
            context = extra_context or {}
            reason = (
                context.get("reason")
                or context.get("saml_last_error_reason")
                or (str(exception) if exception else "")
                or str(error or "unknown")
            )
            services.login_refused_record(connection=connection, email="", reason=reason[:300])
        return super().on_authentication_error(
            request, provider, error=error, exception=exception, extra_context=extra_context
        )

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
        if not connection.is_saml and not nonce_matches(sociallogin):
            provider = sociallogin.account.get_provider()
            raise refuse(request, provider, "the ID token's nonce is not the one this login sent")
        email = (sociallogin.user.email or "").strip().lower()
        identity = _identity(connection, sociallogin)
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
        if connection.is_saml:
            saml_logout.remember_for_session(request)


def _identity(connection: Connection, sociallogin: SocialLogin) -> dict:
    """What the IdP said, for the test result and provisioning (claims, not tokens)."""
    data = sociallogin.account.extra_data or {}
    if connection.is_saml:  # extra_data: every attribute the assertion carried
        email = (sociallogin.user.email or "").strip().lower()
        return saml.identity(connection, sociallogin.account.uid, email, data)
    claims = {**(data.get("userinfo") or {}), **(data.get("id_token") or {})}
    keep = ("sub", "email", "email_verified", "name", "given_name", "family_name", "groups", "iss")
    return {key: claims[key] for key in keep if key in claims}
