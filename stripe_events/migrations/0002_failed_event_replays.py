"""Failed events are replayed hourly (bounded) and paged when failed for over an hour: the
replay count, the last replay and when the failing began. Events already failed start their
hour from when they arrived (the moment they began failing was not recorded)."""

from django.db import migrations, models


def failed_since_received(apps, schema_editor):  # noqa: ANN001, ANN201
    StripeEvent = apps.get_model("stripe_events", "StripeEvent")  # noqa: N806
    StripeEvent.objects.filter(status="failed", failed_at__isnull=True).update(
        failed_at=models.F("received_at")
    )


class Migration(migrations.Migration):
    dependencies = [
        ("stripe_events", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="stripeevent",
            name="failed_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="stripeevent",
            name="last_replayed_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="stripeevent",
            name="replays",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AlterField(
            model_name="stripeevent",
            name="status",
            field=models.CharField(
                choices=[
                    ("pending", "Pending"),
                    ("processed", "Processed"),
                    ("ignored", "Ignored (type not handled)"),
                    ("failed", "Failed"),
                ],
                default="pending",
                max_length=20,
            ),
        ),
        migrations.AddIndex(
            model_name="stripeevent",
            index=models.Index(
                condition=models.Q(("status", "failed")),
                fields=["failed_at"],
                name="stripe_event_failed_idx",
            ),
        ),
        migrations.RunPython(failed_since_received, migrations.RunPython.noop),
    ]
