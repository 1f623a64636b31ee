"""Destructive actions ask first, naming what they act on; a member removal can be undone for
a minute (restoring membership, role and join date, audited)."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains

from audit.models import AuditEvent
from organizations import invitations, services
from organizations.member_restore import membership_restore
from organizations.models import Invitation, InvitationStatus, Membership, Role
from tests.conftest import actor, client_for, make_user

pytestmark = pytest.mark.django_db


def _membership(user, org) -> Membership:  # noqa: ANN001
    return Membership.objects.get(user=user, organization=org)


def test_remove_asks_first_naming_the_member_and_changes_nothing(org, personas):
    target = _membership(personas["member"], org)
    url = reverse("member_remove", args=[org.slug, target.public_id])
    response = client_for(personas["admin"]).get(url)
    assertContains(response, "Remove Mei Martinez (member@acme.test) from Acme Robotics?")
    assertContains(response, f'action="{url}"')
    assert Membership.objects.filter(pk=target.pk).exists()
    assert not AuditEvent.objects.exists()


def test_the_tab_links_to_the_confirmation_instead_of_posting(org, personas):
    target = _membership(personas["member"], org)
    html = client_for(personas["owner"]).get(reverse("organization_tab", args=[org.slug]))
    confirm_url = reverse("member_remove", args=[org.slug, target.public_id])
    assertContains(html, f'href="{confirm_url}"')
    assert f'action="{confirm_url}"' not in html.content.decode()


def test_an_admin_is_not_even_asked_to_remove_an_admin(org, personas):
    other = Membership.objects.create(
        organization=org, user=make_user("admin2@acme.test"), role=Role.ADMIN
    )
    response = client_for(personas["admin"]).get(
        reverse("member_remove", args=[org.slug, other.public_id])
    )
    assert response.status_code == 403


def _remove(client, org, membership):  # noqa: ANN001, ANN202
    return client.post(reverse("member_remove", args=[org.slug, membership.public_id]), follow=True)


def test_undo_within_the_minute_restores_membership_role_and_join_date(org, personas, owner):
    admin_user = personas["admin"]
    target = _membership(admin_user, org)
    joined = timezone.now() - timedelta(days=40)
    Membership.objects.filter(pk=target.pk).update(joined_at=joined)
    client = client_for(owner)

    response = _remove(client, org, target)
    assertContains(response, "Undo removal of admin@acme.test")
    removal = AuditEvent.objects.get(action="member.removed")
    response = client.post(
        reverse("member_restore", args=[org.slug]), {"removal": str(removal.public_id)}, follow=True
    )

    assertContains(response, "Undone: admin@acme.test is back, as Admin.")
    restored = _membership(admin_user, org)
    assert (restored.role, restored.public_id, restored.joined_at) == (
        Role.ADMIN,
        target.public_id,
        joined,
    )
    event = AuditEvent.objects.get(action="member.restored")
    assert event.actor == owner and event.after["removal"] == str(removal.public_id)
    assert (
        "Undo removal"
        not in client.get(reverse("organization_tab", args=[org.slug])).content.decode()
    )


def test_undo_after_the_minute_is_refused_and_the_offer_is_gone(org, personas, time_machine):
    time_machine.move_to(timezone.now(), tick=False)
    client = client_for(personas["owner"])
    _remove(client, org, _membership(personas["member"], org))
    removal = AuditEvent.objects.get(action="member.removed")
    time_machine.shift(timedelta(seconds=61))

    page = client.get(reverse("organization_tab", args=[org.slug])).content.decode()
    assert "Undo removal" not in page
    response = client.post(
        reverse("member_restore", args=[org.slug]), {"removal": str(removal.public_id)}, follow=True
    )
    assertContains(response, "The minute to undo the removal of member@acme.test has passed.")
    assert not Membership.objects.filter(user=personas["member"], organization=org).exists()


def test_only_the_remover_can_undo_and_only_once(org, personas):
    _remove(client_for(personas["owner"]), org, _membership(personas["member"], org))
    removal = AuditEvent.objects.get(action="member.removed")
    with pytest.raises(services.ServiceError, match="no removal of yours"):
        membership_restore(
            actor=actor(personas["admin"]), organization=org, removal_id=removal.public_id
        )
    membership_restore(
        actor=actor(personas["owner"]), organization=org, removal_id=removal.public_id
    )
    _membership(personas["member"], org)  # back
    with pytest.raises(services.ServiceError, match="already undone"):
        membership_restore(
            actor=actor(personas["owner"]), organization=org, removal_id=removal.public_id
        )


def test_undo_is_refused_when_the_freed_seat_was_taken(org, personas):
    org.seat_count = 3  # owner, admin, member: full again once the invitation takes the seat
    org.save()
    client = client_for(personas["owner"])
    _remove(client, org, _membership(personas["member"], org))
    removal = AuditEvent.objects.get(action="member.removed")
    invitations.invitation_create(
        actor=actor(personas["owner"]), organization=org, email="new@acme.test", role=Role.MEMBER
    )
    response = client.post(
        reverse("member_restore", args=[org.slug]), {"removal": str(removal.public_id)}, follow=True
    )
    assertContains(response, "All 3 seats are in use")
    assert not Membership.objects.filter(user=personas["member"], organization=org).exists()


def test_revoke_asks_first_naming_the_address(org, personas):
    invitation = invitations.invitation_create(
        actor=actor(personas["owner"]), organization=org, email="new@acme.test", role=Role.MEMBER
    )
    url = reverse("invitation_revoke", args=[org.slug, invitation.public_id])
    client = client_for(personas["admin"])
    assertContains(client.get(url), "Revoke the invitation to new@acme.test?")
    assert Invitation.objects.get(pk=invitation.pk).status == InvitationStatus.PENDING
    client.post(url)
    assert Invitation.objects.get(pk=invitation.pk).status == InvitationStatus.REVOKED
