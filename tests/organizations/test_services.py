"""Every rule of organizations/services.py, and the audit row each change writes."""

import hashlib
import re
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings as django_settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, connections, transaction

from audit.models import AuditEvent
from audit.services import Actor, audit_record
from organizations import invitations, services
from organizations.models import (
    Invitation,
    InvitationStatus,
    Membership,
    Organization,
    Plan,
    Role,
)
from organizations.selectors import seat_usage
from organizations.services import InvitationUnusable, SeatLimitReached, ServiceError
from organizations.tasks import expire_invitations
from organizations.tokens import hash_token
from tests.conftest import actor, make_org, make_user

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
TOKEN_RE = re.compile(r"/invitations/([A-Za-z0-9_-]+)/")


@pytest.fixture
def invite(django_capture_on_commit_callbacks, mailoutbox):
    """Invite through the service and return (invitation, token from the emailed link)."""

    def _invite(org, by, email, role=Role.MEMBER):
        with django_capture_on_commit_callbacks(execute=True):
            invitation = invitations.invitation_create(
                actor=actor(by), organization=org, email=email, role=role
            )
        assert mailoutbox[-1].to == [invitation.email]
        return invitation, TOKEN_RE.search(mailoutbox[-1].body).group(1)

    return _invite


@pytest.fixture
def frozen(time_machine):
    time_machine.move_to(T0, tick=False)
    return time_machine


def set_seats(org: Organization, seats: int) -> None:
    Organization.objects.filter(pk=org.pk).update(seat_count=seats)
    org.refresh_from_db()


def membership_of(user, org: Organization) -> Membership:
    return Membership.objects.get(user=user, organization=org)


def assert_audited(action, *, by, organization, before, after, target_id=None) -> AuditEvent:
    """Exactly one event of this action, with who, from where, and what changed."""
    event = AuditEvent.objects.get(action=action)
    assert event.actor == by
    assert event.actor_email == (by.email if by else "")
    assert event.ip_address == ("203.0.113.7" if by else None)
    assert event.user_agent == ("pytest" if by else "")
    assert event.organization == organization
    assert event.before == before
    assert event.after == after
    if target_id is not None:
        assert event.target_id == str(target_id)
    return event


# --- seats --------------------------------------------------------------------------------------


def test_seats_used_are_members_plus_pending_invitations(org, personas, invite):
    invite(org, personas["owner"], "new@example.com")

    usage = seat_usage(org)

    assert (usage.members, usage.pending_invitations, usage.used) == (3, 1, 4)


def test_an_invitation_is_refused_when_no_seat_is_free(org, personas, invite):
    set_seats(org, 4)  # three personas + one free seat
    invite(org, personas["owner"], "first@example.com")

    with pytest.raises(SeatLimitReached, match="All 4 seats are in use"):
        invitations.invitation_create(
            actor=actor(personas["admin"]),
            organization=org,
            email="second@example.com",
            role=Role.MEMBER,
        )

    assert list(Invitation.objects.values_list("email", flat=True)) == ["first@example.com"]
    assert AuditEvent.objects.filter(action="invitation.created").count() == 1


def test_expired_invitations_do_not_count_against_the_seats(org, personas, invite, frozen):
    set_seats(org, 4)
    invite(org, personas["owner"], "late@example.com")
    frozen.move_to(T0 + timedelta(days=7, seconds=1), tick=False)

    assert seat_usage(org).pending_invitations == 0
    # The freed seat can be taken, even by the same address again.
    again, _ = invite(org, personas["owner"], "late@example.com")

    assert again.status == InvitationStatus.PENDING
    old = Invitation.objects.get(email="late@example.com", status="expired")
    assert old.pk != again.pk
    # Expired on the spot (the beat task had not run yet), audited like the task does it.
    assert_audited(
        "invitation.expired",
        by=None,
        organization=org,
        before={"status": "pending"},
        after={"status": "expired"},
        target_id=old.public_id,
    )


def test_a_revoked_invitation_frees_its_seat(org, personas, invite):
    set_seats(org, 4)
    invitation, _ = invite(org, personas["owner"], "gone@example.com")
    invitations.invitation_revoke(
        actor=actor(personas["owner"]), organization=org, public_id=invitation.public_id
    )

    invite(org, personas["owner"], "next@example.com")

    assert seat_usage(org).used == 4


# --- invitation_create --------------------------------------------------------------------------


def test_invitation_create_stores_only_the_token_hash_and_expires_in_seven_days(
    org, personas, invite, frozen, mailoutbox
):
    invitation, token = invite(org, personas["admin"], "  New.Hire@Example.COM ")

    invitation.refresh_from_db()
    assert invitation.email == "new.hire@example.com"
    assert invitation.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in invitation.token_hash
    assert invitation.invited_by == personas["admin"]
    assert invitation.sent_at == T0
    assert invitation.expires_at == T0 + timedelta(days=7)
    assert len(mailoutbox) == 1
    assert_audited(
        "invitation.created",
        by=personas["admin"],
        organization=org,
        before=None,
        after={
            "email": "new.hire@example.com",
            "role": "member",
            "expires_at": (T0 + timedelta(days=7)).isoformat(),
        },
        target_id=invitation.public_id,
    )


def test_a_second_pending_invitation_to_the_same_address_is_refused(org, personas, invite):
    invite(org, personas["owner"], "twice@example.com")

    with pytest.raises(ServiceError, match="already has a pending invitation"):
        invitations.invitation_create(
            actor=actor(personas["owner"]),
            organization=org,
            email="TWICE@example.com",
            role=Role.MEMBER,
        )

    assert Invitation.objects.filter(email__iexact="twice@example.com").count() == 1


def test_inviting_an_existing_member_is_refused(org, personas):
    with pytest.raises(ServiceError, match="already a member"):
        invitations.invitation_create(
            actor=actor(personas["owner"]),
            organization=org,
            email="Member@Acme.test",
            role=Role.MEMBER,
        )

    assert not Invitation.objects.exists()


def test_a_member_of_another_organization_can_be_invited(org, personas, invite):
    invitation, _ = invite(org, personas["owner"], personas["outsider"].email)

    assert invitation.status == InvitationStatus.PENDING


def test_only_owners_invite_admins(org, personas, invite):
    with pytest.raises(PermissionDenied, match="Only owners can invite admins"):
        invitations.invitation_create(
            actor=actor(personas["admin"]),
            organization=org,
            email="boss@example.com",
            role=Role.ADMIN,
        )
    assert not Invitation.objects.exists()

    invitation, _ = invite(org, personas["owner"], "boss@example.com", role=Role.ADMIN)

    assert invitation.role == Role.ADMIN


def test_nobody_is_invited_as_an_owner(org, personas):
    with pytest.raises(ServiceError, match="Admin or Member"):
        invitations.invitation_create(
            actor=actor(personas["owner"]),
            organization=org,
            email="x@example.com",
            role=Role.OWNER,
        )

    assert not Invitation.objects.exists()


@pytest.mark.parametrize("persona", ["member", "outsider"])
def test_members_and_outsiders_cannot_invite(org, personas, persona):
    with pytest.raises(PermissionDenied):
        invitations.invitation_create(
            actor=actor(personas[persona]),
            organization=org,
            email="x@example.com",
            role=Role.MEMBER,
        )

    assert not Invitation.objects.exists()
    assert not AuditEvent.objects.exists()


# --- resend and revoke --------------------------------------------------------------------------


def test_resend_rotates_the_token_and_restarts_the_seven_day_clock(
    org, personas, invite, frozen, django_capture_on_commit_callbacks, mailoutbox
):
    invitation, old_token = invite(org, personas["owner"], "slow@example.com")
    frozen.move_to(T0 + timedelta(days=3), tick=False)

    with django_capture_on_commit_callbacks(execute=True):
        invitations.invitation_resend(
            actor=actor(personas["admin"]), organization=org, public_id=invitation.public_id
        )

    new_token = TOKEN_RE.search(mailoutbox[-1].body).group(1)
    assert new_token != old_token
    invitation.refresh_from_db()
    assert invitation.sent_at == T0 + timedelta(days=3)
    assert invitation.expires_at == T0 + timedelta(days=10)
    assert invitation.token_hash == hash_token(new_token)
    with pytest.raises(InvitationUnusable) as refused:
        invitations.invitation_for_token(old_token)
    assert refused.value.reason == "unknown"
    assert invitations.invitation_for_token(new_token).pk == invitation.pk
    assert_audited(
        "invitation.resent",
        by=personas["admin"],
        organization=org,
        before={"expires_at": (T0 + timedelta(days=7)).isoformat()},
        after={"expires_at": (T0 + timedelta(days=10)).isoformat()},
        target_id=invitation.public_id,
    )


def test_resending_an_expired_invitation_takes_a_seat_again(org, personas, invite, frozen):
    set_seats(org, 4)
    invitation, _ = invite(org, personas["owner"], "late@example.com")
    frozen.move_to(T0 + timedelta(days=8), tick=False)
    # While it was expired, its seat went to someone else.
    Membership.objects.create(organization=org, user=make_user("filler@acme.test"))

    with pytest.raises(SeatLimitReached):
        invitations.invitation_resend(
            actor=actor(personas["owner"]), organization=org, public_id=invitation.public_id
        )

    invitation.refresh_from_db()
    assert invitation.expires_at == T0 + timedelta(days=7)
    set_seats(org, 5)
    invitations.invitation_resend(
        actor=actor(personas["owner"]), organization=org, public_id=invitation.public_id
    )
    invitation.refresh_from_db()
    assert invitation.expires_at == T0 + timedelta(days=15)


def test_resending_an_expired_invitation_counts_the_seats_as_they_are_now(
    org, personas, invite, frozen
):
    set_seats(org, 5)
    invitation, _ = invite(org, personas["owner"], "late@example.com")
    frozen.move_to(T0 + timedelta(days=8), tick=False)
    Membership.objects.create(organization=org, user=make_user("filler@acme.test"))
    loaded_at_request_start = Organization.objects.get(pk=org.pk)  # 5 seats
    Organization.objects.filter(pk=org.pk).update(seat_count=4)  # reduced meanwhile: all used

    with pytest.raises(SeatLimitReached):
        invitations.invitation_resend(
            actor=actor(personas["owner"]),
            organization=loaded_at_request_start,
            public_id=invitation.public_id,
        )


def test_revoke_marks_the_invitation_revoked(org, personas, invite, frozen):
    invitation, token = invite(org, personas["owner"], "nope@example.com")

    invitations.invitation_revoke(
        actor=actor(personas["admin"]), organization=org, public_id=invitation.public_id
    )

    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.REVOKED
    assert invitation.revoked_at == T0
    assert_audited(
        "invitation.revoked",
        by=personas["admin"],
        organization=org,
        before={"status": "pending"},
        after={"status": "revoked"},
        target_id=invitation.public_id,
    )


@pytest.mark.parametrize("service", [invitations.invitation_revoke, invitations.invitation_resend])
def test_a_revoked_invitation_can_be_neither_revoked_nor_resent(org, personas, invite, service):
    invitation, _ = invite(org, personas["owner"], "nope@example.com")
    invitations.invitation_revoke(
        actor=actor(personas["owner"]), organization=org, public_id=invitation.public_id
    )

    with pytest.raises(ServiceError, match="no longer pending"):
        service(actor=actor(personas["owner"]), organization=org, public_id=invitation.public_id)

    assert AuditEvent.objects.filter(action__in=["invitation.resent"]).count() == 0
    assert AuditEvent.objects.filter(action="invitation.revoked").count() == 1


@pytest.mark.parametrize("service", [invitations.invitation_revoke, invitations.invitation_resend])
def test_members_cannot_revoke_or_resend(org, personas, invite, service):
    invitation, _ = invite(org, personas["owner"], "x@example.com")

    with pytest.raises(PermissionDenied):
        service(actor=actor(personas["member"]), organization=org, public_id=invitation.public_id)

    assert Invitation.objects.get().status == InvitationStatus.PENDING


@pytest.mark.parametrize("service", [invitations.invitation_revoke, invitations.invitation_resend])
def test_another_organizations_invitation_is_out_of_reach(
    org, other_org, personas, invite, service
):
    foreign, _ = invite(other_org, personas["outsider"], "x@example.com")
    hash_before = foreign.token_hash

    with pytest.raises(ServiceError):
        service(actor=actor(personas["owner"]), organization=org, public_id=foreign.public_id)

    foreign.refresh_from_db()
    assert (foreign.status, foreign.token_hash) == (InvitationStatus.PENDING, hash_before)


# --- accept -------------------------------------------------------------------------------------


def test_accept_makes_the_invitee_a_member_with_the_invited_role(org, personas, invite, frozen):
    invitation, token = invite(org, personas["owner"], "new@example.com", role=Role.ADMIN)
    newcomer = make_user("new@example.com", "Nia Newcomer")

    membership = invitations.invitation_accept(actor=actor(newcomer), token=token)

    assert (membership.organization, membership.user, membership.role) == (
        org,
        newcomer,
        Role.ADMIN,
    )
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.ACCEPTED
    assert invitation.accepted_by == newcomer
    assert invitation.accepted_at == T0
    # The invitation's seat became the member's seat.
    assert (seat_usage(org).members, seat_usage(org).pending_invitations) == (4, 0)
    assert_audited(
        "invitation.accepted",
        by=newcomer,
        organization=org,
        before={"invitation": str(invitation.public_id), "status": "pending"},
        after={"role": "admin", "status": "accepted"},
        target_id=membership.public_id,
    )


def test_accept_requires_the_signed_in_address_to_be_the_invited_one(org, personas, invite):
    invitation, token = invite(org, personas["owner"], "new@example.com")
    someone_else = make_user("someone@example.com")

    with pytest.raises(ServiceError, match="This invitation is for new@example.com"):
        invitations.invitation_accept(actor=actor(someone_else), token=token)

    assert not Membership.objects.filter(user=someone_else).exists()
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.PENDING


def test_accept_requires_the_invited_address_to_be_verified(org, personas, invite):
    invitation, token = invite(org, personas["owner"], "new@example.com")
    unverified = make_user("new@example.com", verified=False)

    with pytest.raises(ServiceError, match="Verify new@example.com"):
        invitations.invitation_accept(actor=actor(unverified), token=token)

    assert not Membership.objects.filter(user=unverified).exists()
    assert Invitation.objects.get().status == InvitationStatus.PENDING


def _reason(token: str, user) -> str:
    with pytest.raises(InvitationUnusable) as refused:
        invitations.invitation_accept(actor=actor(user), token=token)
    return refused.value.reason


def test_an_expired_invitation_cannot_be_accepted(org, personas, invite, frozen):
    _, token = invite(org, personas["owner"], "new@example.com")
    newcomer = make_user("new@example.com")
    frozen.move_to(T0 + timedelta(days=7), tick=False)  # expiry is inclusive

    assert _reason(token, newcomer) == "expired"
    services.invitations_expire()  # and once the task has marked it
    assert _reason(token, newcomer) == "expired"
    assert not Membership.objects.filter(user=newcomer).exists()


def test_an_invitation_is_still_usable_one_second_before_it_expires(org, personas, invite, frozen):
    _, token = invite(org, personas["owner"], "new@example.com")
    newcomer = make_user("new@example.com")
    frozen.move_to(T0 + timedelta(days=7, seconds=-1), tick=False)

    assert invitations.invitation_accept(actor=actor(newcomer), token=token).organization == org


def test_a_revoked_invitation_cannot_be_accepted(org, personas, invite):
    invitation, token = invite(org, personas["owner"], "new@example.com")
    invitations.invitation_revoke(
        actor=actor(personas["owner"]), organization=org, public_id=invitation.public_id
    )

    assert _reason(token, make_user("new@example.com")) == "revoked"
    assert not Membership.objects.filter(user__email="new@example.com").exists()


def test_a_used_invitation_cannot_be_accepted_again(org, personas, invite):
    _, token = invite(org, personas["owner"], "new@example.com")
    newcomer = make_user("new@example.com")
    invitations.invitation_accept(actor=actor(newcomer), token=token)

    assert _reason(token, newcomer) == "used"
    assert Membership.objects.filter(user=newcomer).count() == 1
    assert AuditEvent.objects.filter(action="invitation.accepted").count() == 1


def test_a_forged_token_is_unknown(org, personas, invite):
    invite(org, personas["owner"], "new@example.com")

    assert _reason("forged-" + "x" * 40, make_user("new@example.com")) == "unknown"


def test_accept_is_refused_when_seats_were_reduced_meanwhile(org, personas, invite):
    set_seats(org, 4)
    _, token = invite(org, personas["owner"], "new@example.com")
    set_seats(org, 3)

    with pytest.raises(SeatLimitReached):
        invitations.invitation_accept(actor=actor(make_user("new@example.com")), token=token)

    assert Membership.objects.filter(organization=org).count() == 3
    assert Invitation.objects.get().status == InvitationStatus.PENDING


def test_accept_by_someone_who_already_joined_is_refused(org, personas, invite):
    _, token = invite(org, personas["owner"], "new@example.com")
    newcomer = make_user("new@example.com")
    Membership.objects.create(organization=org, user=newcomer)

    with pytest.raises(ServiceError, match="already a member"):
        invitations.invitation_accept(actor=actor(newcomer), token=token)

    assert Membership.objects.filter(user=newcomer).count() == 1


# --- the expiry task ----------------------------------------------------------------------------


def test_invitations_expire_marks_stale_pending_invitations_once(org, personas, invite, frozen):
    stale, _ = invite(org, personas["owner"], "stale@example.com")
    revoked, _ = invite(org, personas["owner"], "revoked@example.com")
    invitations.invitation_revoke(
        actor=actor(personas["owner"]), organization=org, public_id=revoked.public_id
    )
    frozen.move_to(T0 + timedelta(days=2), tick=False)
    fresh, _ = invite(org, personas["owner"], "fresh@example.com")
    frozen.move_to(T0 + timedelta(days=7, minutes=1), tick=False)

    assert expire_invitations() == 1  # the Celery task, run in-process
    assert services.invitations_expire() == 0  # idempotent

    statuses = dict(Invitation.objects.values_list("email", "status"))
    assert statuses == {
        "stale@example.com": "expired",
        "revoked@example.com": "revoked",
        "fresh@example.com": "pending",
    }
    assert_audited(
        "invitation.expired",
        by=None,
        organization=org,
        before={"status": "pending"},
        after={"status": "expired"},
        target_id=stale.public_id,
    )


# --- roles --------------------------------------------------------------------------------------


def test_an_owner_makes_a_member_an_admin(org, personas):
    target = membership_of(personas["member"], org)

    services.membership_change_role(
        actor=actor(personas["owner"]),
        organization=org,
        public_id=target.public_id,
        role=Role.ADMIN,
    )

    target.refresh_from_db()
    assert target.role == Role.ADMIN
    assert_audited(
        "member.role_changed",
        by=personas["owner"],
        organization=org,
        before={"role": "member"},
        after={"role": "admin"},
        target_id=target.public_id,
    )


def test_an_owner_makes_another_owner_who_can_then_step_down(org, personas):
    admin = membership_of(personas["admin"], org)
    owner = membership_of(personas["owner"], org)
    services.membership_change_role(
        actor=actor(personas["owner"]),
        organization=org,
        public_id=admin.public_id,
        role=Role.OWNER,
    )

    services.membership_change_role(
        actor=actor(personas["owner"]),
        organization=org,
        public_id=owner.public_id,
        role=Role.MEMBER,
    )

    roles = dict(Membership.objects.values_list("user__email", "role"))
    assert roles["admin@acme.test"] == Role.OWNER
    assert roles["owner@acme.test"] == Role.MEMBER
    assert AuditEvent.objects.filter(action="member.role_changed").count() == 2


@pytest.mark.parametrize(
    ("target", "role"),
    [
        ("member", Role.ADMIN),  # make an admin
        ("member", Role.OWNER),  # make an owner
        ("admin", Role.MEMBER),  # unmake an admin
        ("owner", Role.ADMIN),  # unmake an owner
    ],
)
def test_only_owners_make_or_unmake_owners_and_admins(org, personas, target, role):
    membership = membership_of(personas[target], org)
    with pytest.raises(PermissionDenied, match="Only owners"):
        services.membership_change_role(
            actor=actor(personas["admin"]),
            organization=org,
            public_id=membership.public_id,
            role=role,
        )

    membership.refresh_from_db()
    assert membership.role == target
    assert not AuditEvent.objects.exists()


def test_members_cannot_change_roles(org, personas):
    membership = membership_of(personas["member"], org)
    with pytest.raises(PermissionDenied):
        services.membership_change_role(
            actor=actor(personas["member"]),
            organization=org,
            public_id=membership.public_id,
            role=Role.ADMIN,
        )

    assert membership_of(personas["member"], org).role == Role.MEMBER


@pytest.mark.parametrize("role", [Role.ADMIN, Role.MEMBER])
def test_the_last_owner_cannot_be_demoted(org, personas, role):
    owner = membership_of(personas["owner"], org)

    with pytest.raises(ServiceError, match="last owner"):
        services.membership_change_role(
            actor=actor(personas["owner"]),
            organization=org,
            public_id=owner.public_id,
            role=role,
        )

    assert membership_of(personas["owner"], org).role == Role.OWNER
    assert not AuditEvent.objects.exists()


def test_an_unknown_role_is_refused(org, personas):
    membership = membership_of(personas["member"], org)
    with pytest.raises(ServiceError, match="Choose Owner, Admin or Member"):
        services.membership_change_role(
            actor=actor(personas["owner"]),
            organization=org,
            public_id=membership.public_id,
            role="superuser",
        )

    assert membership_of(personas["member"], org).role == Role.MEMBER


def test_setting_the_current_role_again_records_nothing(org, personas):
    membership = membership_of(personas["member"], org)

    services.membership_change_role(
        actor=actor(personas["admin"]),
        organization=org,
        public_id=membership.public_id,
        role=Role.MEMBER,
    )

    assert not AuditEvent.objects.exists()


def test_a_member_of_another_organization_is_out_of_reach(org, personas):
    foreign = membership_of(
        personas["outsider"], personas["outsider"].memberships.get().organization
    )

    with pytest.raises(ServiceError, match="not a member of this organization"):
        services.membership_change_role(
            actor=actor(personas["owner"]),
            organization=org,
            public_id=foreign.public_id,
            role=Role.MEMBER,
        )
    with pytest.raises(ServiceError, match="not a member of this organization"):
        services.membership_remove(
            actor=actor(personas["owner"]), organization=org, public_id=foreign.public_id
        )

    foreign.refresh_from_db()
    assert foreign.role == Role.OWNER


# --- removal and leaving ------------------------------------------------------------------------


def test_an_admin_removes_a_member_and_frees_the_seat(org, personas):
    target = membership_of(personas["member"], org)

    services.membership_remove(
        actor=actor(personas["admin"]), organization=org, public_id=target.public_id
    )

    assert not Membership.objects.filter(pk=target.pk).exists()
    assert seat_usage(org).members == 2
    assert_audited(
        "member.removed",
        by=personas["admin"],
        organization=org,
        before={
            "email": "member@acme.test",
            "role": "member",
            "user_id": personas["member"].pk,
            "joined_at": target.joined_at.isoformat(),
        },
        after=None,
        target_id=target.public_id,
    )


def test_an_owner_removes_an_admin(org, personas):
    target = membership_of(personas["admin"], org)

    services.membership_remove(
        actor=actor(personas["owner"]), organization=org, public_id=target.public_id
    )

    assert not Membership.objects.filter(pk=target.pk).exists()
    assert AuditEvent.objects.get().action == "member.removed"


@pytest.mark.parametrize("target", ["owner", "admin"])
def test_admins_cannot_remove_owners_or_admins(org, personas, target):
    other_admin = make_user("admin2@acme.test")
    Membership.objects.create(organization=org, user=other_admin, role=Role.ADMIN)
    victim = membership_of(personas[target], org)

    with pytest.raises(PermissionDenied, match="Only owners"):
        services.membership_remove(
            actor=actor(other_admin), organization=org, public_id=victim.public_id
        )

    assert Membership.objects.filter(pk=victim.pk).exists()


def test_members_cannot_remove_anyone(org, personas):
    victim = membership_of(personas["admin"], org)
    with pytest.raises(PermissionDenied):
        services.membership_remove(
            actor=actor(personas["member"]), organization=org, public_id=victim.public_id
        )

    assert Membership.objects.filter(pk=victim.pk).exists()


def test_nobody_removes_themselves_they_leave_instead(org, personas):
    own = membership_of(personas["admin"], org)

    with pytest.raises(ServiceError, match="Leave organization"):
        services.membership_remove(
            actor=actor(personas["admin"]), organization=org, public_id=own.public_id
        )

    assert Membership.objects.filter(pk=own.pk).exists()


def test_a_member_leaves(org, personas):
    services.membership_leave(actor=actor(personas["member"]), organization=org)

    assert not Membership.objects.filter(user=personas["member"], organization=org).exists()
    assert_audited(
        "member.left",
        by=personas["member"],
        organization=org,
        before={"email": "member@acme.test", "role": "member"},
        after=None,
    )


def test_the_last_owner_can_neither_leave_nor_be_removed(org, personas):
    with pytest.raises(ServiceError, match="last owner"):
        services.membership_leave(actor=actor(personas["owner"]), organization=org)

    assert membership_of(personas["owner"], org).role == Role.OWNER
    assert not AuditEvent.objects.exists()


def test_an_owner_may_leave_while_another_owner_remains(org, personas):
    Membership.objects.filter(user=personas["admin"]).update(role=Role.OWNER)

    services.membership_leave(actor=actor(personas["owner"]), organization=org)

    assert list(Membership.objects.filter(organization=org, role=Role.OWNER)) == [
        membership_of(personas["admin"], org)
    ]


def test_an_outsider_cannot_leave_an_organization_they_are_not_in(org, personas):
    with pytest.raises(PermissionDenied):
        services.membership_leave(actor=actor(personas["outsider"]), organization=org)


# --- ownership transfer -------------------------------------------------------------------------


def test_transfer_makes_the_target_an_owner_and_the_old_owner_an_admin(org, personas):
    new_owner = membership_of(personas["member"], org)

    services.ownership_transfer(
        actor=actor(personas["owner"]), organization=org, public_id=new_owner.public_id
    )

    assert membership_of(personas["member"], org).role == Role.OWNER
    assert membership_of(personas["owner"], org).role == Role.ADMIN
    assert_audited(
        "organization.ownership_transferred",
        by=personas["owner"],
        organization=org,
        before={
            "from": "owner@acme.test",
            "from_role": "owner",
            "to": "member@acme.test",
            "to_role": "member",
        },
        after={
            "from": "owner@acme.test",
            "from_role": "admin",
            "to": "member@acme.test",
            "to_role": "owner",
        },
        target_id=new_owner.public_id,
    )


def test_only_owners_transfer_ownership(org, personas):
    target = membership_of(personas["member"], org)
    with pytest.raises(PermissionDenied):
        services.ownership_transfer(
            actor=actor(personas["admin"]), organization=org, public_id=target.public_id
        )

    assert membership_of(personas["member"], org).role == Role.MEMBER


def test_transfer_to_oneself_or_to_a_stranger_is_refused(org, personas):
    own = membership_of(personas["owner"], org)
    foreign = personas["outsider"].memberships.get()

    with pytest.raises(ServiceError, match="already own"):
        services.ownership_transfer(
            actor=actor(personas["owner"]), organization=org, public_id=own.public_id
        )
    with pytest.raises(ServiceError, match="not a member"):
        services.ownership_transfer(
            actor=actor(personas["owner"]), organization=org, public_id=foreign.public_id
        )

    assert membership_of(personas["owner"], org).role == Role.OWNER
    assert not AuditEvent.objects.exists()


# --- organizations ------------------------------------------------------------------------------


def test_create_makes_the_creator_the_owner_of_a_new_teams_organization(db):
    creator = make_user("founder@example.com", "Fay Founder")

    org = services.organization_create(
        actor=actor(creator), name="  Hooli ", slug="hooli", time_zone="America/Los_Angeles"
    )

    org.refresh_from_db()
    assert (org.name, org.slug, org.plan, org.time_zone) == (
        "Hooli",
        "hooli",
        Plan.TEAMS,
        "America/Los_Angeles",
    )
    assert org.seat_count == django_settings.NEW_ORGANIZATION_SEATS
    assert org.billing_email == "founder@example.com"
    assert membership_of(creator, org).role == Role.OWNER
    assert_audited(
        "organization.created",
        by=creator,
        organization=org,
        before=None,
        after={
            "name": "Hooli",
            "slug": "hooli",
            "time_zone": "America/Los_Angeles",
            "plan": "teams",
        },
    )
    assert_audited(
        "member.joined", by=creator, organization=org, before=None, after={"role": "owner"}
    )


def test_create_needs_a_verified_email(db):
    unverified = make_user("founder@example.com", verified=False)

    with pytest.raises(ServiceError, match="Verify your email"):
        services.organization_create(
            actor=actor(unverified), name="Hooli", slug="hooli", time_zone="UTC"
        )

    assert not Organization.objects.exists()
    assert not AuditEvent.objects.exists()


@pytest.mark.parametrize("slug", sorted(services.RESERVED_SLUGS))
def test_create_refuses_reserved_slugs(db, slug):
    with pytest.raises(ServiceError, match="reserved"):
        services.organization_create(
            actor=actor(make_user("founder@example.com")), name="X", slug=slug, time_zone="UTC"
        )

    assert not Organization.objects.exists()


def test_create_refuses_a_taken_slug(org):
    founder = make_user("founder@example.com")

    with pytest.raises(ServiceError, match="taken"):
        services.organization_create(
            actor=actor(founder), name="Acme Again", slug="acme", time_zone="UTC"
        )

    assert Organization.objects.count() == 1
    assert not Membership.objects.filter(user=founder).exists()
    assert not AuditEvent.objects.exists()


def test_create_refuses_an_unknown_time_zone(db):
    with pytest.raises(ServiceError, match="time zone"):
        services.organization_create(
            actor=actor(make_user("founder@example.com")),
            name="Hooli",
            slug="hooli",
            time_zone="Mars/Olympus_Mons",
        )

    assert not Organization.objects.exists()


def test_unique_slug_for_derives_a_free_unreserved_slug(org):
    make_org("acme-robotics", "Acme Robotics")

    assert services.unique_slug_for("Acme Robotics") == "acme-robotics-2"
    assert services.unique_slug_for("Hooli XYZ") == "hooli-xyz"
    assert services.unique_slug_for("New") == "new-org"
    assert services.unique_slug_for("!!!") == "org"


def test_an_owner_updates_the_settings_and_only_changes_are_recorded(org, personas):
    services.organization_update_settings(
        actor=actor(personas["owner"]),
        organization=org,
        name=" Acme Robotics GmbH ",
        time_zone="Europe/Berlin",
        billing_email="ap@acme.test",
    )

    org.refresh_from_db()
    assert (org.name, org.time_zone, org.billing_email) == (
        "Acme Robotics GmbH",
        "Europe/Berlin",
        "ap@acme.test",
    )
    assert_audited(
        "organization.settings_updated",
        by=personas["owner"],
        organization=org,
        before={"name": "Acme Robotics", "billing_email": ""},
        after={"name": "Acme Robotics GmbH", "billing_email": "ap@acme.test"},
    )


def test_saving_unchanged_settings_records_nothing(org, personas):
    services.organization_update_settings(
        actor=actor(personas["owner"]),
        organization=org,
        name=org.name,
        time_zone=org.time_zone,
        billing_email=org.billing_email,
    )

    assert not AuditEvent.objects.exists()


@pytest.mark.parametrize("persona", ["admin", "member", "outsider"])
def test_only_owners_update_the_settings(org, personas, persona):
    with pytest.raises(PermissionDenied):
        services.organization_update_settings(
            actor=actor(personas[persona]),
            organization=org,
            name="Hijacked",
            time_zone="UTC",
            billing_email="",
        )

    org.refresh_from_db()
    assert org.name == "Acme Robotics"


def test_settings_refuse_an_unknown_time_zone(org, personas):
    with pytest.raises(ValidationError):
        services.organization_update_settings(
            actor=actor(personas["owner"]),
            organization=org,
            name="Acme Robotics",
            time_zone="Mars/Olympus_Mons",
            billing_email="",
        )

    org.refresh_from_db()
    assert org.time_zone == "Europe/Berlin"
    assert not AuditEvent.objects.exists()


def test_an_admin_updates_the_data_collection_policies(org, personas):
    services.organization_update_policies(
        actor=actor(personas["admin"]),
        organization=org,
        code_training_opt_out=False,
        usage_analytics=True,
    )

    org.refresh_from_db()
    assert (org.code_training_opt_out, org.usage_analytics) == (False, True)
    assert_audited(
        "organization.policies_updated",
        by=personas["admin"],
        organization=org,
        before={"code_training_opt_out": True, "usage_analytics": True},
        after={"code_training_opt_out": False, "usage_analytics": True},
    )


def test_unchanged_policies_record_nothing(org, personas):
    services.organization_update_policies(
        actor=actor(personas["owner"]),
        organization=org,
        code_training_opt_out=True,
        usage_analytics=True,
    )

    assert not AuditEvent.objects.exists()


def test_members_cannot_update_the_policies(org, personas):
    with pytest.raises(PermissionDenied):
        services.organization_update_policies(
            actor=actor(personas["member"]),
            organization=org,
            code_training_opt_out=False,
            usage_analytics=False,
        )

    org.refresh_from_db()
    assert (org.code_training_opt_out, org.usage_analytics) == (True, True)


# --- audit --------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_audit_record_refuses_to_run_outside_a_transaction():
    with pytest.raises(RuntimeError, match="inside the change's transaction"):
        audit_record(actor=Actor.system(), action="organization.created")

    assert not AuditEvent.objects.exists()


def test_a_rolled_back_change_leaves_no_audit_row(org, personas):
    with pytest.raises(ZeroDivisionError), transaction.atomic():
        services.organization_update_policies(
            actor=actor(personas["owner"]),
            organization=org,
            code_training_opt_out=False,
            usage_analytics=False,
        )
        1 / 0  # noqa: B018 - fail after the change, inside its transaction

    assert not AuditEvent.objects.exists()
    org.refresh_from_db()
    assert org.code_training_opt_out is True


def test_actor_from_request_keeps_ip_and_a_bounded_user_agent(rf, personas):
    request = rf.get("/", REMOTE_ADDR="198.51.100.4", HTTP_USER_AGENT="x" * 600)
    request.user = personas["owner"]

    who = Actor.from_request(request)

    assert (who.user, who.email, who.ip_address) == (
        personas["owner"],
        "owner@acme.test",
        "198.51.100.4",
    )
    assert who.user_agent == "x" * 512


# --- concurrency (real PostgreSQL connections, one per thread) -----------------------------------


def _wait_until_blocked_on_locks(count: int) -> None:
    """Return once `count` other sessions of this database wait for a lock (no sleeping: each
    probe is one round trip to PostgreSQL)."""
    deadline = time.monotonic() + 20
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute("SELECT pg_stat_clear_snapshot()")  # stats are cached per transaction
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0] >= count:
                return
    pytest.fail(f"{count} sessions never queued behind the organization lock")


def _in_thread(barrier: threading.Barrier, results: dict, key: str, call) -> threading.Thread:
    def run() -> None:
        try:
            barrier.wait()
            call()
            results[key] = "ok"
        except Exception as error:  # noqa: BLE001 - reported to the main thread
            results[key] = error
        finally:
            connections.close_all()  # this thread's own connection

    return threading.Thread(target=run, name=key)


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_invitations_for_the_last_seat_exactly_one_wins(org, personas):
    set_seats(org, 4)  # three personas: one seat left
    barrier = threading.Barrier(3, timeout=20)
    results: dict[str, object] = {}
    threads = [
        _in_thread(
            barrier,
            results,
            persona,
            lambda persona=persona: invitations.invitation_create(
                actor=actor(personas[persona]),
                organization=org,
                email=f"via-{persona}@example.com",
                role=Role.MEMBER,
            ),
        )
        for persona in ("owner", "admin")
    ]

    # Hold the organization's row lock so that both invitations are in flight at once.
    with transaction.atomic():
        Organization.objects.select_for_update().get(pk=org.pk)
        for thread in threads:
            thread.start()
        barrier.wait()
        _wait_until_blocked_on_locks(2)
    for thread in threads:
        thread.join(timeout=30)

    outcomes = sorted(
        "won" if result == "ok" else type(result).__name__ for result in results.values()
    )
    assert outcomes == ["SeatLimitReached", "won"], results
    pending = Invitation.objects.filter(organization=org, status=InvitationStatus.PENDING)
    assert pending.count() == 1
    assert AuditEvent.objects.filter(action="invitation.created").count() == 1
    assert seat_usage(org).used == 4


@pytest.mark.django_db(transaction=True)
def test_a_demotion_committed_while_a_removal_waits_is_seen_by_the_removal(org, personas):
    # The admin asks to remove the member while an owner is demoting that admin: the removal
    # must be decided with the admin's role as it is once it gets its turn, not as it was.
    victim = membership_of(personas["member"], org)
    demoted = membership_of(personas["admin"], org)
    barrier = threading.Barrier(2, timeout=20)
    results: dict[str, object] = {}
    thread = _in_thread(
        barrier,
        results,
        "removal",
        lambda: services.membership_remove(
            actor=actor(personas["admin"]), organization=org, public_id=victim.public_id
        ),
    )

    with transaction.atomic():
        Organization.objects.select_for_update().get(pk=org.pk)
        thread.start()
        barrier.wait()
        _wait_until_blocked_on_locks(1)
        services.membership_change_role(
            actor=actor(personas["owner"]),
            organization=org,
            public_id=demoted.public_id,
            role=Role.MEMBER,
        )
    thread.join(timeout=30)

    assert isinstance(results["removal"], PermissionDenied), results
    assert Membership.objects.filter(pk=victim.pk).exists()
    assert not AuditEvent.objects.filter(action="member.removed").exists()
