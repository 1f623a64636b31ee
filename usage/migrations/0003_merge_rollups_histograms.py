"""Rollups become merge-only (sums add, latency histograms merge): rebuild them from the events.

Existing rollup rows carry percentiles but no histogram, so they cannot be merged into: they are
emptied and the cursor reset, and the next rollup runs fold every retained event back in, chunk
by chunk. The de-duplication keys get the event's time so they can be pruned with retention
(a BRIN index on PostgreSQL keeps that delete cheap without slowing ingestion).
"""

import django.utils.timezone
from django.db import migrations, models

ROLLUPS = (
    "HourlyRollup",
    "DailyRollup",
    "OrgHourlyRollup",
    "OrgDailyRollup",
    "ModelDailyRollup",
    "MemberDailyRollup",
)


def reset_rollups(apps, schema_editor) -> None:
    for name in ROLLUPS:
        apps.get_model("usage", name).objects.all().delete()
    apps.get_model("usage", "RollupState").objects.update(last_event_id=0)


def brin_index(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "CREATE INDEX ingestedrequest_occurred_brin ON usage_ingestedrequest "
            "USING brin (occurred_at)"
        )


def leave_room_for_updates(apps, schema_editor) -> None:
    """The rollup updates rows in place (sums add, no indexed column changes): free space in
    each page lets PostgreSQL make those heap-only updates, without touching the indexes."""
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in (*ROLLUPS, "ModelHourlyRollup", "MemberHourlyRollup"):
        table = apps.get_model("usage", name)._meta.db_table
        schema_editor.execute(f"ALTER TABLE {table} SET (fillfactor = 70)")


class Migration(migrations.Migration):
    dependencies = [
        ("usage", "0002_partition_usage_events"),
    ]

    operations = [
        migrations.RunPython(reset_rollups, migrations.RunPython.noop),
        migrations.CreateModel(
            name="MemberHourlyRollup",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("organization_id", models.BigIntegerField()),
                ("requests", models.BigIntegerField(default=0)),
                ("errors", models.BigIntegerField(default=0)),
                ("input_tokens", models.BigIntegerField(default=0)),
                ("output_tokens", models.BigIntegerField(default=0)),
                ("cache_read_tokens", models.BigIntegerField(default=0)),
                ("cache_write_tokens", models.BigIntegerField(default=0)),
                ("cost_microdollars", models.BigIntegerField(default=0)),
                ("hour", models.DateTimeField()),
                ("user_id", models.BigIntegerField()),
            ],
        ),
        migrations.CreateModel(
            name="ModelHourlyRollup",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("organization_id", models.BigIntegerField()),
                ("requests", models.BigIntegerField(default=0)),
                ("errors", models.BigIntegerField(default=0)),
                ("input_tokens", models.BigIntegerField(default=0)),
                ("output_tokens", models.BigIntegerField(default=0)),
                ("cache_read_tokens", models.BigIntegerField(default=0)),
                ("cache_write_tokens", models.BigIntegerField(default=0)),
                ("cost_microdollars", models.BigIntegerField(default=0)),
                ("hour", models.DateTimeField()),
                ("model", models.CharField(max_length=128)),
                ("provider", models.CharField(max_length=64)),
            ],
        ),
        migrations.DeleteModel(
            name="DirtyDay",
        ),
        migrations.DeleteModel(
            name="DirtyHour",
        ),
        migrations.RemoveIndex(
            model_name="hourlyrollup",
            name="hourly_org_user",
        ),
        migrations.RemoveIndex(
            model_name="hourlyrollup",
            name="hourly_org_model",
        ),
        migrations.RemoveField(
            model_name="hourlyrollup",
            name="latency_p50_ms",
        ),
        migrations.RemoveField(
            model_name="hourlyrollup",
            name="latency_p95_ms",
        ),
        migrations.AddField(
            model_name="dailyrollup",
            name="latency_histogram",
            field=models.JSONField(default=dict),
        ),
        migrations.AddField(
            model_name="ingestedrequest",
            name="occurred_at",
            field=models.DateTimeField(default=django.utils.timezone.now),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="modeldailyrollup",
            name="latency_histogram",
            field=models.JSONField(default=dict),
        ),
        migrations.RemoveConstraint(
            model_name="hourlyrollup",
            name="hourlyrollup_unique",
        ),
        migrations.AddConstraint(
            model_name="hourlyrollup",
            constraint=models.UniqueConstraint(
                fields=("organization_id", "user_id", "model", "provider", "hour"),
                name="hourlyrollup_member_model_unique",
            ),
        ),
        migrations.AddConstraint(
            model_name="memberhourlyrollup",
            constraint=models.UniqueConstraint(
                fields=("organization_id", "user_id", "hour"), name="memberhourly_unique"
            ),
        ),
        migrations.AddIndex(
            model_name="modelhourlyrollup",
            index=models.Index(
                fields=["organization_id", "provider", "hour"], name="modelhourly_provider"
            ),
        ),
        migrations.AddConstraint(
            model_name="modelhourlyrollup",
            constraint=models.UniqueConstraint(
                fields=("organization_id", "model", "provider", "hour"), name="modelhourly_unique"
            ),
        ),
        migrations.RunPython(brin_index, migrations.RunPython.noop),
        migrations.RunPython(leave_room_for_updates, migrations.RunPython.noop),
    ]
