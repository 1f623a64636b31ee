"""The beat task's sweep of invitations past their expiry (kept apart from services so that the
tasks module, which services enqueue from, never imports services)."""

from django.db import transaction
from django.utils import timezone

from audit.services import Actor, audit_record

from .models import Invitation, InvitationStatus


def invitations_expire() -> int:
    """Mark every pending invitation past its expiry as expired (the beat task)."""
    expired = 0
    now = timezone.now()
    stale = Invitation.objects.filter(status=InvitationStatus.PENDING, expires_at__lte=now)
    for invitation_id in stale.values_list("pk", flat=True).iterator():
        with transaction.atomic():
            updated = Invitation.objects.filter(
                pk=invitation_id, status=InvitationStatus.PENDING, expires_at__lte=now
            ).update(status=InvitationStatus.EXPIRED)
            if updated:
                invitation = Invitation.objects.select_related("organization").get(pk=invitation_id)
                audit_record(
                    actor=Actor.system(),
                    action="invitation.expired",
                    organization=invitation.organization,
                    target=invitation,
                    target_label=invitation.email,
                    before={"status": InvitationStatus.PENDING},
                    after={"status": InvitationStatus.EXPIRED},
                )
                expired += 1
    return expired
