"""SAML single logout (SLO) around allauth's `sls` endpoint (/accounts/saml/<id>/sls/).

What allauth does on its own: its `sls` view takes a LogoutRequest from the IdP (IdP-initiated
logout: it ends our session and answers the IdP with a LogoutResponse) and a LogoutResponse (the
end of a logout we started). It never starts one: signing out of Kilo would leave the person's
IdP session alive. What we add:

- At a SAML login we keep, in the session, what a LogoutRequest must name: the NameID (with its
  format and qualifiers) and the IdP's SessionIndex.
- Signing out of Kilo (allauth's logout view asks the account adapter where to go next, before it
  ends the session) sends the browser to the IdP's single logout service with a LogoutRequest
  signed with the connection's SP key. The IdP ends its session and answers at `sls`.
- `sls` accepts only signed logout messages (sso.saml.app_settings): an unsigned LogoutRequest is
  a link anyone could make a signed-in browser follow to sign it out.

Only when the IdP has a single logout service: its metadata's SingleLogoutService (read live for a
metadata URL, kept from pasted metadata) or the URL entered by hand. Otherwise our sign-out ends
our session only, as before.
"""

import logging
from collections.abc import Callable

from allauth.socialaccount.providers.saml.utils import build_auth
from django.http import HttpRequest

from . import selectors
from .models import Connection

SESSION_KEY = "sso_saml_logout"
_PENDING = "_kilo_saml_logout"
logger = logging.getLogger(__name__)


def note_login(request: HttpRequest, provider_id: str, auth: object) -> None:
    """python3-saml's Auth after a valid response: keep what a LogoutRequest names, on the
    request until the login is accepted (remember_for_session)."""
    setattr(
        request,
        _PENDING,
        {
            "provider_id": provider_id,
            "name_id": auth.get_nameid(),
            "name_id_format": auth.get_nameid_format(),
            "nq": auth.get_nameid_nq(),
            "spnq": auth.get_nameid_spnq(),
            "session_index": auth.get_session_index(),
        },
    )


def remember_for_session(request: HttpRequest) -> None:
    """The SAML login was accepted (a sign-in, not a test): the session keeps it for logout."""
    pending = getattr(request, _PENDING, None)
    if pending:
        request.session[SESSION_KEY] = pending


def idp_logout_url(request: HttpRequest, app_for: Callable[[Connection], object]) -> str:
    """Where signing out sends this browser: the IdP's single logout service with our signed
    LogoutRequest, or "" (our session ends only). Never fails a sign-out. `app_for` builds the
    connection's allauth app (sso.adapters.social_app_for)."""
    data = request.session.get(SESSION_KEY) if hasattr(request, "session") else None
    if not data or not getattr(request.user, "is_authenticated", False):
        return ""
    connection = selectors.connection_by_provider_id(str(data.get("provider_id", "")))
    if connection is None or not connection.is_saml:
        return ""
    try:
        auth = build_auth(request, app_for(connection).get_provider(request))
        if not auth.get_slo_url():
            return ""
        return auth.logout(
            name_id=data.get("name_id"),
            session_index=data.get("session_index"),
            nq=data.get("nq"),
            name_id_format=data.get("name_id_format"),
            spnq=data.get("spnq"),
        )
    except Exception:  # noqa: BLE001 - the IdP's metadata unreachable, a broken key: sign out here
        logger.exception("SAML single logout could not start for %s", connection.provider_id)
        return ""
