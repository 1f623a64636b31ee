"""Thin receiver: after an SSO login, audit it and provision the member (sso.services)."""

from django.http import HttpRequest
from django.urls import reverse

from . import selectors, services


def on_user_logged_in(sender, request: HttpRequest, user, response=None, **kwargs) -> None:  # noqa: ANN001
    from .adapters import WAITING_SESSION_KEY

    connection_hex = request.session.pop("sso_connection", None)
    groups = request.session.pop("sso_groups", [])
    if not kwargs.get("sociallogin") or not connection_hex:
        return
    connection = selectors.connection_by_provider_id(f"kilo-{connection_hex}")
    if connection is None:
        return
    services.login_succeeded_record(connection=connection, user=user)
    outcome = services.login_provision(connection=connection, user=user, groups=list(groups))
    if outcome.waiting:
        request.session[WAITING_SESSION_KEY] = connection.organization.slug
        if response is not None:  # allauth passes the redirect it is about to send
            response["Location"] = reverse("sso_waiting")
    else:
        request.session.pop(WAITING_SESSION_KEY, None)
