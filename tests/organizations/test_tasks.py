"""The invitation-expiry task, run by a real Celery worker through Redis."""

from datetime import timedelta

from django.utils import timezone

from audit.models import AuditEvent
from organizations.models import Invitation, InvitationStatus
from organizations.tasks import expire_invitations
from tests.conftest import make_org


def test_a_real_worker_expires_stale_invitations_once(celery_worker):
    org = make_org("acme", "Acme Robotics")
    now = timezone.now()
    stale = Invitation.objects.create(
        organization=org,
        email="late@acme.test",
        token_hash="a" * 64,
        sent_at=now,
        expires_at=now - timedelta(minutes=1),
    )
    fresh = Invitation.objects.create(
        organization=org,
        email="soon@acme.test",
        token_hash="b" * 64,
        sent_at=now,
        expires_at=now + timedelta(days=1),
    )

    assert expire_invitations.delay().get(timeout=60) == 1
    assert expire_invitations.delay().get(timeout=60) == 0  # idempotent

    stale.refresh_from_db()
    fresh.refresh_from_db()
    assert stale.status == InvitationStatus.EXPIRED
    assert fresh.status == InvitationStatus.PENDING
    event = AuditEvent.objects.get(action="invitation.expired")
    assert event.target_label == "late@acme.test"
    assert event.actor is None and event.after == {"status": "expired"}
