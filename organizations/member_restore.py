"""Undo of a member removal, offered to the remover for one minute.

Cheap because nothing else is deleted with a membership: the removal's audit event holds the
user, role, join date and public id, and restoring re-creates the row from it (audited too).
"""

from datetime import datetime, timedelta

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from audit.models import AuditEvent
from audit.services import Actor, audit_record

from .models import Membership, Organization, Role
from .permissions import Capability
from .services import ServiceError, _ensure_seat_free, _lock_organization, _require

UNDO_WINDOW = timedelta(minutes=1)


def undo_deadline(removal: AuditEvent) -> datetime:
    return removal.created_at + UNDO_WINDOW


@transaction.atomic
def membership_restore(*, actor: Actor, organization: Organization, removal_id: str) -> Membership:
    """Put back the membership that `removal_id` (a member.removed audit event) deleted."""
    organization = _lock_organization(organization)
    acting = _require(actor, organization, Capability.MANAGE_MEMBERS)
    removal = (
        AuditEvent.objects.select_for_update()
        .filter(organization=organization, action="member.removed", public_id=removal_id)
        .first()
    )
    if removal is None or removal.actor_id != actor.user.pk:
        raise ServiceError("There is no removal of yours to undo.")
    before = removal.before or {}
    email = before.get("email", "")
    if timezone.now() > undo_deadline(removal):
        raise ServiceError(
            f"The minute to undo the removal of {email} has passed. Invite them again."
        )
    if AuditEvent.objects.filter(
        organization=organization, action="member.restored", after__removal=str(removal.public_id)
    ).exists():
        raise ServiceError(f"The removal of {email} was already undone.")
    role = before.get("role", Role.MEMBER)
    if role != Role.MEMBER and acting.role != Role.OWNER:
        raise PermissionDenied("Only owners can restore owners and admins.")
    user = User.objects.filter(pk=before.get("user_id"), is_active=True).first()
    if user is None:
        raise ServiceError(f"The account of {email} no longer exists; invite them again.")
    if Membership.objects.filter(organization=organization, user=user).exists():
        raise ServiceError(f"{email} is a member again already.")
    _ensure_seat_free(organization)  # the freed seat may have been taken in the meantime
    membership = Membership.objects.create(
        organization=organization, user=user, role=role, public_id=removal.target_id
    )
    joined_at = before.get("joined_at")
    if joined_at:  # auto_now_add ignores a value given to create()
        Membership.objects.filter(pk=membership.pk).update(
            joined_at=datetime.fromisoformat(joined_at)
        )
        membership.refresh_from_db()
    audit_record(
        actor=actor,
        action="member.restored",
        organization=organization,
        target=membership,
        target_label=email,
        before=None,
        after={"email": email, "role": role, "removal": str(removal.public_id)},
    )
    return membership
