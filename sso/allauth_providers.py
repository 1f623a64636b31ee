"""allauth's OpenID Connect and SAML providers with the two checks they leave out.

- OpenID Connect: allauth sends no `nonce` and so cannot check one. We send a fresh nonce with
  every authorization request, keep it in allauth's state for that login (one use, this browser
  session) and refuse an ID token that does not carry it back (OpenID Connect Core 3.1.2.1,
  3.1.3.7 #11): an ID token obtained for another login cannot be injected into this one.
- SAML: python3-saml (strict) checks signature, issuer, audience, destination and validity
  window, and allauth accepts only a response to a request this browser session made (its
  InResponseTo state is used once). On top of that each assertion id is accepted once, across
  sessions and processes, for as long as the assertion could still be valid (sso.saml). What a
  later single logout needs from the response is noted (sso.saml_logout).
"""

import hmac
import secrets

from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.helpers import render_authentication_error
from allauth.socialaccount.models import SocialLogin
from allauth.socialaccount.providers.openid_connect.provider import OpenIDConnectProvider
from allauth.socialaccount.providers.saml.provider import SAMLProvider
from django.http import HttpRequest

from . import saml, saml_logout

NONCE_STATE_KEY = "oidc_nonce"


def refuse(request: HttpRequest, provider: object, reason: str) -> ImmediateHttpResponse:
    """allauth's "login failed" page; its on_authentication_error hook audits the reason."""
    response = render_authentication_error(request, provider, extra_context={"reason": reason})
    return ImmediateHttpResponse(response)


class ConnectionOIDCProvider(OpenIDConnectProvider):
    def redirect(self, request: HttpRequest, process, next_url=None, data=None, **kwargs):  # noqa: ANN001, ANN201
        nonce = secrets.token_urlsafe(32)
        auth_params = kwargs.pop("auth_params", None)
        auth_params = dict(self.get_auth_params() if auth_params is None else auth_params)
        auth_params["nonce"] = nonce
        # Everything left in kwargs is stashed with allauth's state for this login.
        return super().redirect(
            request, process, next_url, data, auth_params=auth_params, **kwargs, oidc_nonce=nonce
        )


def nonce_matches(sociallogin: SocialLogin) -> bool:
    sent = str((sociallogin.state or {}).get(NONCE_STATE_KEY) or "")
    received = str(
        ((sociallogin.account.extra_data or {}).get("id_token") or {}).get("nonce") or ""
    )
    return bool(sent) and hmac.compare_digest(sent.encode(), received.encode())


class ConnectionSAMLProvider(SAMLProvider):
    def sociallogin_from_response(self, request: HttpRequest, response):  # noqa: ANN001, ANN201
        # `response` is python3-saml's Auth after process_response() validated it.
        if not saml.assertion_first_use(
            self.app.provider_id,
            response.get_last_assertion_id(),
            response.get_last_assertion_not_on_or_after(),
        ):
            raise refuse(request, self, "replayed assertion (its id was already used)")
        saml_logout.note_login(request, self.app.provider_id, response)
        return super().sociallogin_from_response(request, response)
