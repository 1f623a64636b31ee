"""Every write to invitations: create, resend, revoke and accept; and reading a link's invitation.

The same rules as organizations/services.py (whose errors and locking helpers these share): one
transaction each, rules checked here, the audit event in that transaction, and the email sent by
a task once the invitation is committed.
"""

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from accounts.selectors import user_has_verified_email
from audit.services import Actor, audit_record

from . import limits, tasks
from .gate import gate_changed
from .models import Invitation, InvitationStatus, Membership, Organization
from .permissions import Capability
from .selectors import seat_usage
from .services import (
    INVITABLE_ROLES,
    InvitationUnusable,
    SeatLimitReached,
    ServiceError,
    TooManyInvitations,
    _ensure_seat_free,
    _expire_stale_invitations,
    _lock_organization,
    _require,
    invitable_roles,
)
from .tokens import hash_token, invitation_token


@transaction.atomic
def invitation_create(
    *, actor: Actor, organization: Organization, email: str, role: str
) -> Invitation:
    organization = _lock_organization(organization)
    inviter = _require(actor, organization, Capability.MANAGE_MEMBERS)
    email = email.strip().lower()
    if role not in INVITABLE_ROLES:
        raise ServiceError("Invite people as Admin or Member; ownership is transferred later.")
    if role not in invitable_roles(inviter.role):
        raise PermissionDenied("Only owners can invite admins.")
    _expire_stale_invitations(organization)
    if Membership.objects.filter(organization=organization, user__email__iexact=email).exists():
        raise ServiceError(f"{email} is already a member of {organization.name}.")
    if Invitation.objects.filter(
        organization=organization, email__iexact=email, status=InvitationStatus.PENDING
    ).exists():
        raise ServiceError(f"{email} already has a pending invitation; resend it instead.")
    _ensure_seat_free(organization)
    _ensure_new_organization_cap(organization)
    _consume_invitation_email(actor, organization, email)
    now = timezone.now()
    invitation = Invitation(
        organization=organization,
        email=email,
        role=role,
        invited_by=actor.user,
        sent_at=now,
        expires_at=now + timedelta(days=settings.INVITATION_TTL_DAYS),
    )
    invitation.token_hash = hash_token(invitation_token(invitation))
    invitation.save(force_insert=True)
    audit_record(
        actor=actor,
        action="invitation.created",
        organization=organization,
        target=invitation,
        target_label=email,
        after={"email": email, "role": role, "expires_at": invitation.expires_at.isoformat()},
    )
    _send_after_commit(invitation)
    return invitation


def _ensure_new_organization_cap(organization: Organization) -> None:
    refusal = limits.new_organization_pending_refusal(
        organization, pending=seat_usage(organization).pending_invitations
    )
    if refusal:
        raise TooManyInvitations(refusal)


def _consume_invitation_email(actor: Actor, organization: Organization, email: str) -> None:
    refusal = limits.invitation_email_consume(
        inviter_id=actor.user.pk, organization_id=organization.pk, email=email
    )
    if refusal:
        raise TooManyInvitations(refusal)


def _send_after_commit(invitation: Invitation) -> None:
    # From a task with retries, once the row is committed: a mail server that fails can neither
    # undo the invitation nor turn the request into a 500.
    # robust: should even enqueueing fail (or, in the demo, the eager task exhaust its retries),
    # the request that committed the invitation still succeeds; the error is logged.
    transaction.on_commit(lambda: tasks.send_invitation_email.delay(invitation.pk), robust=True)


def _open_invitation(organization: Organization, public_id: str) -> Invitation:
    invitation = (
        Invitation.objects.select_for_update()
        .filter(organization=organization, public_id=public_id)
        .first()
    )
    if invitation is None or invitation.status != InvitationStatus.PENDING:
        raise ServiceError("This invitation is no longer pending.")
    return invitation


@transaction.atomic
def invitation_resend(*, actor: Actor, organization: Organization, public_id: str) -> Invitation:
    """Send a fresh link (the old one stops working) and restart the 7-day clock."""
    _require(actor, organization, Capability.MANAGE_MEMBERS)
    invitation = _open_invitation(organization, public_id)
    wait = invitation.sent_at + timedelta(seconds=settings.INVITATION_RESEND_COOLDOWN_SECONDS)
    if timezone.now() < wait:
        minutes = -(-int((wait - timezone.now()).total_seconds()) // 60)
        raise TooManyInvitations(
            f"An invitation was just sent to {invitation.email}. You can resend it in "
            f"{minutes} minute{'s' if minutes != 1 else ''}."
        )
    if invitation.expires_at <= timezone.now():
        # An expired invitation no longer holds a seat: resending must take one again.
        organization = _lock_organization(organization)
        _ensure_seat_free(organization)
    _consume_invitation_email(actor, organization, invitation.email)
    now = timezone.now()
    before = {"expires_at": invitation.expires_at.isoformat()}
    invitation.sent_at = now
    invitation.token_hash = hash_token(invitation_token(invitation))
    invitation.expires_at = now + timedelta(days=settings.INVITATION_TTL_DAYS)
    invitation.save(update_fields=["token_hash", "sent_at", "expires_at"])
    audit_record(
        actor=actor,
        action="invitation.resent",
        organization=organization,
        target=invitation,
        target_label=invitation.email,
        before=before,
        after={"expires_at": invitation.expires_at.isoformat()},
    )
    _send_after_commit(invitation)
    return invitation


@transaction.atomic
def invitation_revoke(*, actor: Actor, organization: Organization, public_id: str) -> Invitation:
    _require(actor, organization, Capability.MANAGE_MEMBERS)
    invitation = _open_invitation(organization, public_id)
    invitation.status = InvitationStatus.REVOKED
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["status", "revoked_at"])
    audit_record(
        actor=actor,
        action="invitation.revoked",
        organization=organization,
        target=invitation,
        target_label=invitation.email,
        before={"status": InvitationStatus.PENDING},
        after={"status": InvitationStatus.REVOKED},
    )
    return invitation


def invitation_for_token(token: str) -> Invitation:
    """The invitation behind a link, or InvitationUnusable saying why it cannot be used."""
    invitation = (
        Invitation.objects.select_related("organization", "invited_by")
        .filter(token_hash=hash_token(token))
        .first()
    )
    if invitation is None:
        raise InvitationUnusable(
            "unknown",
            "This invitation link is not valid. It may have been replaced by a newer one.",
        )
    if invitation.status == InvitationStatus.ACCEPTED:
        raise InvitationUnusable("used", "This invitation has already been accepted.")
    if invitation.status == InvitationStatus.REVOKED:
        raise InvitationUnusable("revoked", "This invitation was revoked by an administrator.")
    if invitation.status == InvitationStatus.EXPIRED or invitation.expires_at <= timezone.now():
        raise InvitationUnusable(
            "expired", "This invitation has expired. Ask an administrator to send a new one."
        )
    return invitation


@transaction.atomic
def invitation_accept(*, actor: Actor, token: str) -> Membership:
    invitation = invitation_for_token(token)
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation.status != InvitationStatus.PENDING:  # lost a race with revoke or another accept
        raise InvitationUnusable("used", "This invitation is no longer pending.")
    user = actor.user
    if user.email.lower() != invitation.email.lower():
        raise ServiceError(
            f"This invitation is for {invitation.email}, but you are signed in as {user.email}. "
            f"Sign in with the invited address to accept it."
        )
    if not user_has_verified_email(user, invitation.email):
        raise ServiceError(f"Verify {invitation.email} before accepting the invitation.")
    organization = _lock_organization(invitation.organization)
    if Membership.objects.filter(organization=organization, user=user).exists():
        raise ServiceError(f"You are already a member of {organization.name}.")
    # Seat_count carries every rule (the subscriptions app sets it: paid seats, or the free
    # default once a subscription ends), so this check needs nothing from the apps above.
    usage = seat_usage(organization)  # counts this invitation as one of the used seats
    if usage.used > usage.seats:
        raise SeatLimitReached(
            f"{organization.name} has no free seat right now. Ask an owner to add seats."
        )
    membership = Membership.objects.create(
        organization=organization, user=user, role=invitation.role
    )
    gate_changed(organization.pk)
    invitation.status = InvitationStatus.ACCEPTED
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["status", "accepted_at", "accepted_by"])
    audit_record(
        actor=actor,
        action="invitation.accepted",
        organization=organization,
        target=membership,
        target_label=user.email,
        before={"invitation": str(invitation.public_id), "status": InvitationStatus.PENDING},
        after={"role": membership.role, "status": InvitationStatus.ACCEPTED},
    )
    return membership
