"""Writes for the signed-in person's own account (the Account page). Audited, organization-less."""

from django.db import transaction

from accounts.models import User
from audit.services import Actor, audit_record


class AccountError(Exception):
    """A refused change; the message is meant for the user."""


@transaction.atomic
def user_rename(*, actor: Actor, name: str) -> User:
    # Control characters (line breaks included) are refused, not cleaned: a name ends up in
    # email headers and CSV cells.
    if any(ord(ch) < 32 or 127 <= ord(ch) < 160 for ch in name):
        raise AccountError("Your name cannot contain control characters such as line breaks.")
    name = " ".join(name.split())
    if not name:
        raise AccountError("Enter your name.")
    user = User.objects.select_for_update().get(pk=actor.user.pk)
    if user.name == name:
        return user
    before = {"name": user.name}
    user.name = name
    user.save(update_fields=["name"])
    audit_record(
        actor=actor,
        action="account.name_changed",
        target=user,
        target_label=user.email,
        before=before,
        after={"name": name},
    )
    return user
