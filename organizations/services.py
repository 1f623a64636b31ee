"""Every write to organizations and memberships (invitations: organizations/invitations.py).

Each function runs in one transaction, checks the rules itself (views are not trusted to), writes
its audit event in that same transaction and defers side effects (emails) to on_commit.
"""

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from accounts.selectors import user_has_any_verified_email
from audit.models import AuditEvent
from audit.services import Actor, audit_record
from kilo_dashboard.validators import single_line_problem

from .expiry import invitations_expire  # noqa: F401 - re-exported for callers of services
from .gate import gate_changed
from .models import (
    Invitation,
    InvitationStatus,
    Membership,
    Organization,
    Plan,
    Role,
    validate_time_zone,
)
from .permissions import Capability, role_can
from .selectors import seat_usage

RESERVED_SLUGS = {"new", "admin", "api", "static", "accounts", "invitations"}
INVITABLE_ROLES = (Role.ADMIN, Role.MEMBER)


def invitable_roles(inviter_role: str) -> tuple[str, ...]:
    """The roles this inviter may grant: owners invite admins and members, admins members only."""
    return INVITABLE_ROLES if inviter_role == Role.OWNER else (Role.MEMBER,)


class ServiceError(Exception):
    """A rule refused the change; the message is safe and meant for the user."""


class SeatLimitReached(ServiceError):
    pass


class TooManyInvitations(ServiceError):
    """A limit against using invitations as an email relay; the message says when to retry."""


class InvitationUnusable(ServiceError):
    """The token is unknown, expired, revoked or already used. `reason` names which."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


# --- helpers ------------------------------------------------------------------------------------


def _lock_organization(organization: Organization) -> Organization:
    """Lock the organization row: serializes seat and owner-count decisions across requests."""
    return Organization.objects.select_for_update().get(pk=organization.pk)


def _actor_membership(actor: Actor, organization: Organization) -> Membership:
    membership = Membership.objects.filter(organization=organization, user=actor.user).first()
    if membership is None:
        raise PermissionDenied("You are not a member of this organization.")
    return membership


def _require(actor: Actor, organization: Organization, capability: Capability) -> Membership:
    # Call it after _lock_organization: the role is then read after any concurrent role change
    # or removal has committed (they take the same lock), not before it.
    membership = _actor_membership(actor, organization)
    if not role_can(membership.role, capability):
        raise PermissionDenied("Your role in this organization does not allow this.")
    return membership


def _expire_stale_invitations(organization: Organization) -> None:
    """Expire this organization's stale invitations now (the beat task may not have run yet),
    with the same audit row as the task writes."""
    stale = Invitation.objects.select_for_update().filter(
        organization=organization,
        status=InvitationStatus.PENDING,
        expires_at__lte=timezone.now(),
    )
    for invitation in stale:
        invitation.status = InvitationStatus.EXPIRED
        invitation.save(update_fields=["status"])
        audit_record(
            actor=Actor.system(),
            action="invitation.expired",
            organization=organization,
            target=invitation,
            target_label=invitation.email,
            before={"status": InvitationStatus.PENDING},
            after={"status": InvitationStatus.EXPIRED},
        )


def _ensure_seat_free(organization: Organization) -> None:
    # Seat_count carries every rule (the subscriptions app sets it: paid seats, or the free
    # default once a subscription ends), so this check needs nothing from the apps above.
    usage = seat_usage(organization)
    if usage.over_limit:
        raise SeatLimitReached(
            f"{usage.used} seats are in use ({usage.members} members and "
            f"{usage.pending_invitations} pending invitations) but the plan has {usage.seats}. "
            f"Everyone keeps access; to invite, add seats on the Subscriptions tab or remove "
            f"members first."
        )
    if usage.used >= usage.seats:
        raise SeatLimitReached(
            f"All {usage.seats} seats are in use ({usage.members} members and "
            f"{usage.pending_invitations} pending invitations). Add seats or revoke an "
            f"invitation first."
        )


def _ensure_single_line_name(name: str) -> None:
    # The name goes into invitation subjects: a line break there would forge mail headers.
    problem = single_line_problem(name)
    if problem:
        raise ServiceError(f"The organization name {problem}.")


def _org_snapshot(organization: Organization, fields: tuple[str, ...]) -> dict:
    return {field: getattr(organization, field) for field in fields}


# --- organizations ------------------------------------------------------------------------------


def unique_slug_for(name: str) -> str:
    base = slugify(name)[:40] or "org"
    if base in RESERVED_SLUGS:
        base = f"{base}-org"
    slug, n = base, 2
    while Organization.objects.filter(slug=slug).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


@transaction.atomic
def organization_create(*, actor: Actor, name: str, slug: str, time_zone: str) -> Organization:
    if not user_has_any_verified_email(actor.user):
        raise ServiceError("Verify your email address before creating an organization.")
    if slug in RESERVED_SLUGS:
        raise ServiceError(f"The address “{slug}” is reserved; choose another.")
    _ensure_single_line_name(name)
    try:
        validate_time_zone(time_zone)  # create() skips model validators
    except ValidationError as error:
        raise ServiceError(error.messages[0]) from None
    try:
        with transaction.atomic():
            organization = Organization.objects.create(
                name=name.strip(),
                slug=slug,
                plan=Plan.TEAMS,
                time_zone=time_zone,
                billing_email=actor.email,
                seat_count=settings.NEW_ORGANIZATION_SEATS,
            )
    except IntegrityError:
        raise ServiceError(f"The address “{slug}” is taken; choose another.") from None
    membership = Membership.objects.create(
        organization=organization, user=actor.user, role=Role.OWNER
    )
    audit_record(
        actor=actor,
        action="organization.created",
        organization=organization,
        target=organization,
        after={"name": organization.name, "slug": slug, "time_zone": time_zone, "plan": Plan.TEAMS},
    )
    audit_record(
        actor=actor,
        action="member.joined",
        organization=organization,
        target=membership,
        target_label=actor.email,
        after={"role": Role.OWNER},
    )
    return organization


SETTINGS_FIELDS = ("name", "time_zone", "billing_email")


@transaction.atomic
def organization_update_settings(
    *, actor: Actor, organization: Organization, name: str, time_zone: str, billing_email: str
) -> Organization:
    organization = _lock_organization(organization)
    _require(actor, organization, Capability.EDIT_SETTINGS)
    _ensure_single_line_name(name)
    before = _org_snapshot(organization, SETTINGS_FIELDS)
    organization.name = name.strip()
    organization.time_zone = time_zone
    organization.billing_email = billing_email
    organization.full_clean()
    after = _org_snapshot(organization, SETTINGS_FIELDS)
    if before == after:
        return organization
    organization.save(update_fields=list(SETTINGS_FIELDS))
    audit_record(
        actor=actor,
        action="organization.settings_updated",
        organization=organization,
        target=organization,
        before={k: v for k, v in before.items() if after[k] != v},
        after={k: v for k, v in after.items() if before[k] != v},
    )
    return organization


POLICY_FIELDS = ("code_training_opt_out", "usage_analytics")


@transaction.atomic
def organization_update_policies(
    *,
    actor: Actor,
    organization: Organization,
    code_training_opt_out: bool,
    usage_analytics: bool,
) -> Organization:
    organization = _lock_organization(organization)
    _require(actor, organization, Capability.EDIT_POLICIES)
    before = _org_snapshot(organization, POLICY_FIELDS)
    organization.code_training_opt_out = code_training_opt_out
    organization.usage_analytics = usage_analytics
    after = _org_snapshot(organization, POLICY_FIELDS)
    if before == after:
        return organization
    organization.save(update_fields=list(POLICY_FIELDS))
    gate_changed(organization.pk)  # the code-training opt-out changes the usable models
    audit_record(
        actor=actor,
        action="organization.policies_updated",
        organization=organization,
        target=organization,
        before=before,
        after=after,
    )
    return organization


# --- memberships --------------------------------------------------------------------------------


def _membership_in(organization: Organization, public_id: str) -> Membership:
    membership = (
        Membership.objects.select_for_update()
        .select_related("user")
        .filter(organization=organization, public_id=public_id)
        .first()
    )
    if membership is None:
        raise ServiceError("That person is not a member of this organization.")
    return membership


def _ensure_not_last_owner(organization: Organization, membership: Membership, doing: str) -> None:
    if membership.role != Role.OWNER:
        return
    owners = Membership.objects.filter(organization=organization, role=Role.OWNER).count()
    if owners <= 1:
        raise ServiceError(
            f"{membership.user.email} is the last owner and cannot be {doing}. "
            f"Make someone else an owner first."
        )


@transaction.atomic
def membership_change_role(
    *, actor: Actor, organization: Organization, public_id: str, role: str
) -> Membership:
    organization = _lock_organization(organization)
    acting = _require(actor, organization, Capability.MANAGE_MEMBERS)
    if role not in Role.values:
        raise ServiceError("Choose Owner, Admin or Member.")
    membership = _membership_in(organization, public_id)
    privileged = {Role.OWNER, Role.ADMIN}
    if (membership.role in privileged or role in privileged) and acting.role != Role.OWNER:
        raise PermissionDenied("Only owners can make or unmake owners and admins.")
    if membership.role == role:
        return membership
    if role != Role.OWNER:
        _ensure_not_last_owner(organization, membership, "demoted")
    before = {"role": membership.role}
    membership.role = role
    membership.save(update_fields=["role"])
    gate_changed(organization.pk)  # seats go to owners and admins first
    audit_record(
        actor=actor,
        action="member.role_changed",
        organization=organization,
        target=membership,
        target_label=membership.user.email,
        before=before,
        after={"role": role},
    )
    return membership


@transaction.atomic
def membership_remove(*, actor: Actor, organization: Organization, public_id: str) -> AuditEvent:
    """Remove a member; returns the audit event, which is what an undo restores from."""
    organization = _lock_organization(organization)
    acting = _require(actor, organization, Capability.MANAGE_MEMBERS)
    membership = _membership_in(organization, public_id)
    if membership.user_id == actor.user.pk:
        raise ServiceError("To remove yourself, use “Leave organization”.")
    if membership.role != Role.MEMBER and acting.role != Role.OWNER:
        raise PermissionDenied("Only owners can remove owners and admins.")
    _ensure_not_last_owner(organization, membership, "removed")
    removal = audit_record(
        actor=actor,
        action="member.removed",
        organization=organization,
        target=membership,
        target_label=membership.user.email,
        before={
            "email": membership.user.email,
            "role": membership.role,
            # What an undo needs to put the membership back as it was.
            "user_id": membership.user_id,
            "joined_at": membership.joined_at.isoformat(),
        },
        after=None,
    )
    membership.delete()
    gate_changed(organization.pk)
    return removal


@transaction.atomic
def membership_leave(*, actor: Actor, organization: Organization) -> None:
    organization = _lock_organization(organization)
    membership = (
        Membership.objects.select_for_update()
        .select_related("user")
        .filter(organization=organization, user=actor.user)
        .first()
    )
    if membership is None:
        raise PermissionDenied("You are not a member of this organization.")
    _ensure_not_last_owner(organization, membership, "removed")
    audit_record(
        actor=actor,
        action="member.left",
        organization=organization,
        target=membership,
        target_label=actor.email,
        before={"email": actor.email, "role": membership.role},
        after=None,
    )
    membership.delete()
    gate_changed(organization.pk)


@transaction.atomic
def ownership_transfer(*, actor: Actor, organization: Organization, public_id: str) -> Membership:
    """Make another member the owner; the current owner stays on as an admin."""
    organization = _lock_organization(organization)
    acting = _require(actor, organization, Capability.TRANSFER_OWNERSHIP)
    new_owner = _membership_in(organization, public_id)
    if new_owner.pk == acting.pk:
        raise ServiceError("You already own this organization.")
    before = {
        "from": actor.email,
        "from_role": acting.role,
        "to": new_owner.user.email,
        "to_role": new_owner.role,
    }
    new_owner.role = Role.OWNER
    new_owner.save(update_fields=["role"])
    Membership.objects.filter(pk=acting.pk).update(role=Role.ADMIN)
    gate_changed(organization.pk)
    audit_record(
        actor=actor,
        action="organization.ownership_transferred",
        organization=organization,
        target=new_owner,
        target_label=new_owner.user.email,
        before=before,
        after={
            "from": actor.email,
            "from_role": Role.ADMIN,
            "to": new_owner.user.email,
            "to_role": Role.OWNER,
        },
    )
    return new_owner


def memberships_touch_activity(organization_id: int, last_seen: dict[int, object]) -> int:
    """Move members' last activity forward to the given times (never backwards).

    Called by the usage rollup: a bookkeeping update, not a user's change, so no audit row.
    """
    updated = 0
    for user_id, seen_at in last_seen.items():
        updated += (
            Membership.objects.filter(organization_id=organization_id, user_id=user_id)
            .exclude(last_activity_at__gte=seen_at)
            .update(last_activity_at=seen_at)
        )
    return updated


def membership_provision(
    *, actor: Actor, organization: Organization, user: object, role: str, via: str
) -> Membership:
    """A member joins without an invitation (SSO just-in-time provisioning), when a seat is free.

    Raises SeatLimitReached (nothing is created) when every seat is taken: never over-allocate.
    """
    organization = _lock_organization(organization)
    existing = Membership.objects.filter(organization=organization, user=user).first()
    if existing is not None:
        return existing
    _ensure_seat_free(organization)
    membership = Membership.objects.create(organization=organization, user=user, role=role)
    audit_record(
        actor=actor,
        action="member.provisioned",
        organization=organization,
        target=membership,
        target_label=user.email,
        after={"role": role, "via": via},
    )
    return membership
