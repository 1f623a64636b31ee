"""Existing events join their organization's hash chain (in time order) and the counts."""

import zoneinfo

from django.db import migrations

from audit.chain import event_hash
from audit.models import GENESIS_HASH


def forwards(apps, schema_editor):
    AuditEvent = apps.get_model("audit", "AuditEvent")
    AuditTrail = apps.get_model("audit", "AuditTrail")
    AuditCount = apps.get_model("audit", "AuditCount")
    Organization = apps.get_model("organizations", "Organization")
    AuditEvent.objects.filter(actor__isnull=False).update(actor_type="user")
    org_ids = (
        AuditEvent.objects.filter(organization__isnull=False, sequence__isnull=True)
        .order_by()  # the model's ordering would otherwise join the DISTINCT
        .values_list("organization_id", flat=True)
        .distinct()
    )
    for org_id in list(org_ids):
        time_zone = Organization.objects.get(pk=org_id).time_zone or "UTC"
        tz = zoneinfo.ZoneInfo(time_zone)
        prev, sequence, counts = GENESIS_HASH, 0, {}
        events = AuditEvent.objects.filter(organization_id=org_id).order_by("created_at", "id")
        for event in events.iterator(chunk_size=2000):
            sequence += 1
            values = {f: getattr(event, f) for f in (
                "public_id", "organization_id", "created_at", "actor_type", "actor_email",
                "actor_label", "ip_address", "user_agent", "action", "target_type", "target_id",
                "target_label", "before", "after",
            )}
            values["sequence"] = sequence
            digest = event_hash(prev, values)
            AuditEvent.objects.filter(pk=event.pk).update(
                sequence=sequence, prev_hash=prev, hash=digest
            )
            prev = digest
            key = (event.created_at.astimezone(tz).date(), event.action)
            counts[key] = counts.get(key, 0) + 1
        AuditTrail.objects.create(
            organization_id=org_id,
            last_sequence=sequence,
            last_hash=prev,
            count_time_zone=time_zone,
        )
        AuditCount.objects.bulk_create(
            AuditCount(organization_id=org_id, day=b, action=a, count=c)
            for (b, a), c in counts.items()
        )


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_chain_trail_counts")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
