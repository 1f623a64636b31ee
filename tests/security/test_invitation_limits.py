"""Invitations are not an email relay (issue 9, item 3): limits per inviter, per organization and
per recipient address, a resend cooldown, a cap on pending invitations for new organizations,
and each refusal says why in the form or the flash message."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django.urls import reverse

from organizations import invitations
from organizations.models import Invitation, Organization, Role
from tests.conftest import actor, client_for

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _setup(time_machine, settings):
    from kilo_dashboard.celery import app

    time_machine.move_to(NOW, tick=False)
    saved = app.conf.task_always_eager
    app.conf.task_always_eager = True
    settings.INVITATION_LIMITS = {
        "inviter": (4, 3600),
        "organization": (6, 3600),
        "recipient": (3, 86400),
    }
    settings.INVITATION_RESEND_COOLDOWN_SECONDS = 600
    settings.NEW_ORGANIZATION_MAX_PENDING_INVITATIONS = 5
    yield
    app.conf.task_always_eager = saved


@pytest.fixture
def org(org):
    # An established organization with room: only the limit under test can refuse.
    Organization.objects.filter(pk=org.pk).update(
        seat_count=50, created_at=NOW - timedelta(days=30)
    )
    org.refresh_from_db()
    return org


def _invite(user, org, email: str):  # noqa: ANN001, ANN202
    return client_for(user).post(
        reverse("invitation_create", args=[org.slug]), {"email": email, "role": Role.MEMBER}
    )


def _resend(user, org, invitation: Invitation):  # noqa: ANN001, ANN202
    return client_for(user).post(
        reverse("invitation_resend", args=[org.slug, invitation.public_id]), follow=True
    )


def test_a_resend_waits_ten_minutes_after_the_last_send(
    org, owner, time_machine, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        _invite(owner, org, "slow@example.com")
        invitation = Invitation.objects.get()
        time_machine.move_to(NOW + timedelta(minutes=3), tick=False)
        response = _resend(owner, org, invitation)
    assert "An invitation was just sent to slow@example.com. You can resend it in 7 minutes." in (
        response.content.decode()
    )
    assert len(mail.outbox) == 1

    time_machine.move_to(NOW + timedelta(minutes=10), tick=False)
    with django_capture_on_commit_callbacks(execute=True):
        response = _resend(owner, org, invitation)
    assert "A new invitation link was sent to slow@example.com." in response.content.decode()
    assert len(mail.outbox) == 2


def test_thirty_resends_send_at_most_the_recipients_daily_limit(
    org, owner, time_machine, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        _invite(owner, org, "target@example.com")
    invitation = Invitation.objects.get()
    refusals = 0
    for attempt in range(1, 31):
        time_machine.move_to(NOW + timedelta(minutes=11 * attempt), tick=False)
        with django_capture_on_commit_callbacks(execute=True):
            response = _resend(owner, org, invitation)
        if "This address has received too many invitation emails recently." in (
            response.content.decode()
        ):
            refusals += 1
    assert len(mail.outbox) == 3  # the invitation and two resends: 3 a day to one address
    assert refusals == 28


def test_one_inviter_is_limited_per_hour_with_the_reason_in_the_form(org, owner, time_machine):
    for n in range(4):
        assert _invite(owner, org, f"p{n}@example.com").status_code == 302
    response = _invite(owner, org, "p4@example.com")
    assert response.status_code == 400
    assert (
        "You have sent 4 invitation emails recently, the most allowed. Try again in 60 minutes."
        in response.content.decode()
    )
    assert not Invitation.objects.filter(email="p4@example.com").exists()

    time_machine.move_to(NOW + timedelta(hours=1), tick=False)
    assert _invite(owner, org, "p4@example.com").status_code == 302


def test_the_organization_is_limited_across_its_admins(org, owner, admin):
    for n in range(3):
        assert _invite(owner, org, f"o{n}@example.com").status_code == 302
        assert _invite(admin, org, f"a{n}@example.com").status_code == 302
    response = _invite(admin, org, "a3@example.com")
    assert response.status_code == 400
    assert "This organization has sent 6 invitation emails recently" in response.content.decode()


def test_one_address_is_limited_across_invitations_and_organizations(
    org, owner, other_org, outsider
):
    def revoke_acmes() -> None:
        pending = Invitation.objects.get(organization=org, status="pending")
        invitations.invitation_revoke(
            actor=actor(owner), organization=org, public_id=pending.public_id
        )

    assert _invite(owner, org, "popular@example.com").status_code == 302
    revoke_acmes()
    assert _invite(owner, org, "popular@example.com").status_code == 302
    assert _invite(outsider, other_org, "Popular@Example.com").status_code == 302
    revoke_acmes()
    response = _invite(owner, org, "popular@example.com")
    assert response.status_code == 400
    assert "This address has received too many invitation emails recently." in (
        response.content.decode()
    )


def test_a_new_organization_holds_few_pending_invitations_in_its_first_week(
    org, owner, time_machine
):
    Organization.objects.filter(pk=org.pk).update(created_at=NOW - timedelta(days=2))
    for n in range(4):
        assert _invite(owner, org, f"n{n}@example.com").status_code == 302
    time_machine.move_to(NOW + timedelta(hours=1), tick=False)  # a fresh inviter window
    assert _invite(owner, org, "n4@example.com").status_code == 302
    response = _invite(owner, org, "n5@example.com")
    assert response.status_code == 400
    assert (
        "A new organization can have at most 5 pending invitations during its first 7 days "
        "(until 5 Dec 2026)." in response.content.decode()
    )

    time_machine.move_to(NOW + timedelta(days=5, hours=1), tick=False)
    assert _invite(owner, org, "n5@example.com").status_code == 302
