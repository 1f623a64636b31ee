"""Limits that keep invitations from being used as an email relay.

Anyone with a verified address can create an organization, put any text in its name (the email's
subject) and invite any address. So every invitation email, new or resent, counts against three
windows in the shared cache (Redis outside the demo): per inviter, per organization and per
recipient address across all organizations. A resend also waits a cooldown after the previous send
(read from the invitation row), and an organization in its first days may hold only a few pending
invitations at once. The numbers are settings (INVITATION_LIMITS and neighbours).
"""

import time
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from .models import Organization


@dataclass(frozen=True)
class Window:
    scope: str  # "inviter", "organization" or "recipient"
    limit: int
    seconds: int


def windows() -> list[Window]:
    return [
        Window(scope, *settings.INVITATION_LIMITS[scope]) for scope in settings.INVITATION_LIMITS
    ]


def _counter(window: Window, subject: str, now: float) -> tuple[str, int]:
    start = int(now // window.seconds) * window.seconds
    return f"invitation-limit:{window.scope}:{subject}:{start}", start + window.seconds


def _wait_text(seconds: int) -> str:
    minutes = max(1, -(-seconds // 60))  # rounded up: never "try again in 0 minutes"
    if minutes < 90:
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    hours = -(-minutes // 60)
    return f"{hours} hours"


def _refusal(window: Window, wait: str) -> str:
    if window.scope == "inviter":
        return (
            f"You have sent {window.limit} invitation emails recently, the most allowed. "
            f"Try again in {wait}."
        )
    if window.scope == "organization":
        return (
            f"This organization has sent {window.limit} invitation emails recently, the most "
            f"allowed. Try again in {wait}."
        )
    return (
        f"This address has received too many invitation emails recently. Try again in {wait}, "
        f"or ask them to use the link they already have."
    )


def invitation_email_consume(*, inviter_id: int, organization_id: int, email: str) -> str:
    """Count one invitation email against every window: "" when allowed, else why not (and
    nothing is counted)."""
    now = time.time()
    subjects = {"inviter": str(inviter_id), "organization": str(organization_id)}
    subjects["recipient"] = email.strip().lower()
    counters = [(w, *_counter(w, subjects[w.scope], now)) for w in windows()]
    counts = cache.get_many([name for _, name, _ in counters])
    for window, name, ends in counters:
        if counts.get(name, 0) >= window.limit:
            return _refusal(window, _wait_text(int(ends - now)))
    for window, name, _ends in counters:
        cache.add(name, 0, timeout=window.seconds + 60)
        try:
            cache.incr(name)
        except ValueError:  # expired between add and incr
            cache.set(name, 1, timeout=window.seconds + 60)
    return ""


def new_organization_pending_refusal(organization: Organization, *, pending: int) -> str:
    """Why an organization in its first days may not add one more pending invitation, or ""."""
    cap = settings.NEW_ORGANIZATION_MAX_PENDING_INVITATIONS
    until = organization.created_at + timedelta(days=settings.NEW_ORGANIZATION_DAYS)
    if timezone.now() >= until or pending < cap:
        return ""
    return (
        f"A new organization can have at most {cap} pending invitations during its first "
        f"{settings.NEW_ORGANIZATION_DAYS} days (until {until:%-d %b %Y}). Wait until some are "
        f"accepted, or revoke one."
    )
