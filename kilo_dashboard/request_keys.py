"""One-time request keys for the forms that charge money, so a resubmit never charges twice.

The page that asks for a confirmation issues a key bound to the signed-in session, the
organization, the form's purpose and the amount it shows; the form posts the key back. The
service records the charge under the key's id with a unique constraint (Payment.request_key in
billing, ChangeIntent.request_key in subscriptions), so the same confirmation submitted again,
even after the first charge settled, finds the first one and charges nothing. A key issued to
another session, organization, purpose or amount is refused before anything is recorded.

Keys are signed (django.core.signing, so SECRET_KEY) rather than stored when issued: showing a
page writes nothing, and only a used key is stored, by the service, next to what it charged.
The session is bound through a keyed hash of its id; the id itself never appears in a page.
"""

import uuid
from datetime import timedelta

from django import forms
from django.core import signing
from django.http import HttpRequest
from django.utils.crypto import salted_hmac

SALT = "kilo_dashboard.request_keys"
# A confirmation page older than this is refused (nothing charged): start again.
MAX_AGE = timedelta(days=1)


class RequestKeyError(ValueError):
    """The key does not belong to this request; the message is safe to show."""


def _session_ref(request: HttpRequest) -> str:
    # Every page that charges is behind sign-in, so its session has an id; a request without
    # one is refused at the check (nothing is saved here: issuing a key writes nothing).
    return salted_hmac(SALT, request.session.session_key or "").hexdigest()[:32]


def request_key_issue(
    request: HttpRequest, *, organization_id: int, purpose: str, amount_cents: int | None
) -> str:
    """A new key for one confirmation: the hidden field's value.

    `amount_cents` is the amount the page states (None for a form whose amount is typed into
    the same form and that charges nothing itself, like the auto top-up settings)."""
    payload = {
        "id": uuid.uuid4().hex,
        "org": organization_id,
        "purpose": purpose,
        "amount": amount_cents,
        "session": _session_ref(request),
    }
    return signing.dumps(payload, salt=SALT)


def request_key_check(
    request: HttpRequest,
    token: str,
    *,
    organization_id: int,
    purpose: str,
    amount_cents: int | None,
) -> str:
    """The key's id, to record with the charge, if the key was issued for exactly this
    session, organization, purpose and amount; RequestKeyError otherwise."""
    try:
        payload = signing.loads(token or "", salt=SALT, max_age=MAX_AGE)
    except signing.SignatureExpired:
        raise RequestKeyError(
            "This confirmation is more than a day old. Nothing was charged; start again."
        ) from None
    except signing.BadSignature:
        raise RequestKeyError(
            "This confirmation is missing or damaged. Nothing was charged; start again."
        ) from None
    if not request.session.session_key or payload.get("session") != _session_ref(request):
        raise RequestKeyError(
            "This confirmation was opened in another session. Nothing was charged; start again."
        )
    if payload.get("org") != organization_id or payload.get("purpose") != purpose:
        raise RequestKeyError(
            "This confirmation belongs to another organization or form. Nothing was charged."
        )
    if payload.get("amount") != amount_cents:
        raise RequestKeyError(
            "This confirmation was for another amount. Nothing was charged; confirm the amount "
            "again."
        )
    return str(payload["id"])


class RequestKeyField(forms.CharField):
    """The hidden field that carries a key back (checked by the view with request_key_check,
    which needs the request)."""

    def __init__(self, **kwargs: object) -> None:
        kwargs.setdefault("max_length", 500)
        kwargs.setdefault("widget", forms.HiddenInput)
        super().__init__(**kwargs)
