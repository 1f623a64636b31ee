"""Emails: plain-text parts are not HTML-escaped; times are in the organization's time zone."""

from datetime import UTC, datetime, timedelta

import pytest

from accounts.models import User
from organizations import invitations
from organizations.models import Invitation, Membership, Role
from tests.conftest import actor, make_org

pytestmark = pytest.mark.django_db
SENT = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


@pytest.fixture
def invitation(django_capture_on_commit_callbacks, mailoutbox, time_machine) -> Invitation:
    """Sent the way the product sends it: through the service, the email after commit."""
    time_machine.move_to(SENT, tick=False)
    org = make_org("obrien", "O'Brien & Sons <Ltd>")
    org.time_zone = "America/Los_Angeles"  # UTC-8 in December
    org.save()
    inviter = User.objects.create_user(email="sean@obrien.test", name="Seán O'Brien")
    Membership.objects.create(organization=org, user=inviter, role=Role.OWNER)
    with django_capture_on_commit_callbacks(execute=True):
        invitation = invitations.invitation_create(
            actor=actor(inviter), organization=org, email="new@obrien.test", role=Role.MEMBER
        )
    # INVITATION_TTL_DAYS after 30 Nov 2026 12:00 UTC; the expected text below assumes 7.
    assert invitation.expires_at == SENT + timedelta(days=7)
    return invitation


def test_subject_and_text_keep_apostrophes_and_ampersands_as_typed(invitation, mailoutbox):
    [message] = mailoutbox
    assert message.subject == "Seán O'Brien invited you to O'Brien & Sons <Ltd> on Kilo Teams"
    assert (
        "Seán O'Brien (sean@obrien.test) invited you to join O'Brien & Sons <Ltd>" in message.body
    )
    assert "&#x27;" not in message.body and "&amp;" not in message.body


def test_the_html_part_is_still_escaped(invitation, mailoutbox):
    html, mimetype = mailoutbox[0].alternatives[0]
    assert mimetype == "text/html"
    assert "O&#x27;Brien &amp; Sons &lt;Ltd&gt;" in html
    assert "<Ltd>" not in html


def test_expiry_is_shown_in_the_organizations_time_zone(invitation, mailoutbox):
    message = mailoutbox[0]
    assert "expires on 7 December 2026, 04:00 PST" in message.body
    assert "expires on 7 December 2026, 04:00 PST" in message.alternatives[0][0]
