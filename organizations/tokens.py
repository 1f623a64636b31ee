"""Invitation tokens: derived from the invitation, never stored and never put in a task message.

The token is an HMAC (keyed by SECRET_KEY) of the invitation's public id and the time its link was
sent, so the email task can rebuild the link from the invitation id alone, and a resend (new
sent_at) gives a new token that makes the old link stop working. Only its SHA-256 is stored.
"""

import hashlib
from datetime import UTC

from django.utils.crypto import salted_hmac

from .models import Invitation


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def invitation_token(invitation: Invitation) -> str:
    sent_at = invitation.sent_at.astimezone(UTC).isoformat()
    return salted_hmac(
        "organizations.invitation", f"{invitation.public_id}:{sent_at}", algorithm="sha256"
    ).hexdigest()
