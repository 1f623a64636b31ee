"""Emails: plain-text parts are not HTML-escaped; times are in the organization's time zone."""

from datetime import UTC, datetime, timedelta

import pytest

from accounts.models import User
from organizations import emails
from organizations.models import Invitation, Role
from tests.conftest import make_org

pytestmark = pytest.mark.django_db
SENT = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


@pytest.fixture
def invitation() -> Invitation:
    org = make_org("obrien", "O'Brien & Sons <Ltd>")
    org.time_zone = "America/Los_Angeles"  # UTC-8 in December
    org.save()
    inviter = User.objects.create_user(email="sean@obrien.test", name="Seán O'Brien")
    return Invitation.objects.create(
        organization=org,
        email="new@obrien.test",
        role=Role.MEMBER,
        invited_by=inviter,
        token_hash="x" * 64,
        sent_at=SENT,
        expires_at=SENT + timedelta(days=7),  # 7 Dec 2026 12:00 UTC = 04:00 in Los Angeles
    )


def test_subject_and_text_keep_apostrophes_and_ampersands_as_typed(invitation, mailoutbox):
    emails.send_invitation(invitation.pk, "token123")
    [message] = mailoutbox
    assert message.subject == "Seán O'Brien invited you to O'Brien & Sons <Ltd> on Kilo Teams"
    assert (
        "Seán O'Brien (sean@obrien.test) invited you to join O'Brien & Sons <Ltd>" in message.body
    )
    assert "&#x27;" not in message.body and "&amp;" not in message.body


def test_the_html_part_is_still_escaped(invitation, mailoutbox):
    emails.send_invitation(invitation.pk, "token123")
    html, mimetype = mailoutbox[0].alternatives[0]
    assert mimetype == "text/html"
    assert "O&#x27;Brien &amp; Sons &lt;Ltd&gt;" in html
    assert "<Ltd>" not in html


def test_expiry_is_shown_in_the_organizations_time_zone(invitation, mailoutbox):
    emails.send_invitation(invitation.pk, "token123")
    message = mailoutbox[0]
    assert "expires on 7 December 2026, 04:00 PST" in message.body
    assert "expires on 7 December 2026, 04:00 PST" in message.alternatives[0][0]
