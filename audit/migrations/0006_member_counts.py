"""Per-member day counts (AuditMemberCount), filled from the events already recorded.

The days are local days in the zone the organization's existing counts use
(AuditTrail.count_time_zone), so both count tables agree. PostgreSQL fills them with one
INSERT ... SELECT; other databases (the SQLite demo) count in Python.
"""

import zoneinfo
from collections import Counter

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

BACKFILL = """
INSERT INTO audit_auditmembercount (organization_id, actor_id, day, action, count)
SELECT e.organization_id, e.actor_id, (e.created_at AT TIME ZONE t.count_time_zone)::date,
       e.action, count(*)
FROM audit_auditevent e
JOIN audit_audittrail t ON t.organization_id = e.organization_id
WHERE e.actor_id IS NOT NULL AND t.count_time_zone <> ''
GROUP BY 1, 2, 3, 4
"""


def backfill(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKFILL, params=None)
        return
    AuditEvent = apps.get_model("audit", "AuditEvent")
    AuditTrail = apps.get_model("audit", "AuditTrail")
    AuditMemberCount = apps.get_model("audit", "AuditMemberCount")
    for org_id, zone in AuditTrail.objects.exclude(count_time_zone="").values_list(
        "organization_id", "count_time_zone"
    ):
        tz = zoneinfo.ZoneInfo(zone)
        events = AuditEvent.objects.filter(organization_id=org_id, actor_id__isnull=False)
        counts = Counter(
            (actor_id, moment.astimezone(tz).date(), action)
            for actor_id, moment, action in events.values_list("actor_id", "created_at", "action")
            .order_by()
            .iterator(chunk_size=5000)
        )
        AuditMemberCount.objects.bulk_create(
            (
                AuditMemberCount(
                    organization_id=org_id, actor_id=actor_id, day=day, action=action, count=n
                )
                for (actor_id, day, action), n in counts.items()
            ),
            batch_size=5000,
        )


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0005_actor_action_index"),
        ("organizations", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="AuditMemberCount",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("day", models.DateField()),
                ("action", models.CharField(max_length=64)),
                ("count", models.PositiveIntegerField(default=0)),
                (
                    "actor",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "organization",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="organizations.organization",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("organization", "actor", "day", "action"),
                        name="audit_member_count_unique",
                    )
                ],
            },
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
