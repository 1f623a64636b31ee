"""Thin Celery wrappers around audit.maintenance."""

from celery import shared_task
from django.utils import timezone

from .maintenance import counts_follow_time_zone, prune, verify_organization
from .models import AuditTrail


@shared_task(name="audit.tasks.audit_retention")
def audit_retention() -> dict:
    """Daily: prune each organization's events past its retention, recount its days if it
    changed time zone, then verify its chain."""
    now = timezone.now()
    pruned, broken = 0, []
    for trail in AuditTrail.objects.select_related("organization").order_by("pk"):
        pruned += prune(trail.organization, now=now).deleted
        counts_follow_time_zone(trail.organization)
        if not verify_organization(trail.organization).ok:
            broken.append(trail.organization.slug)
    return {"pruned": pruned, "broken": broken}
