"""Steps of test_demo_worker.py, each run in a process with the demo's environment.

setup:  an organization with an invitation that expired an hour ago, and the beat task that
        expires invitations queued on the demo's broker (as the web server would queue it);
wait:   run under scripts/with-worker.sh: wait (up to 120 s) until the worker has expired the
        invitation; exit 0 when it did, 1 when it did not.
"""

import sys
import time
from datetime import timedelta

import django


def main(step: str) -> int:
    django.setup()
    from django.utils import timezone

    from organizations.models import Invitation, InvitationStatus, Organization, Role

    if step == "setup":
        from organizations.tasks import expire_invitations

        org = Organization.objects.create(slug="demo-worker", name="Demo worker")
        Invitation.objects.create(
            organization=org,
            email="late@example.com",
            role=Role.MEMBER,
            token_hash="x" * 64,
            sent_at=timezone.now() - timedelta(days=8),
            expires_at=timezone.now() - timedelta(hours=1),
        )
        expire_invitations.delay()
        return 0
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if Invitation.objects.filter(status=InvitationStatus.EXPIRED).exists():
            return 0
        time.sleep(0.2)  # waiting on another process, with a deadline
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
