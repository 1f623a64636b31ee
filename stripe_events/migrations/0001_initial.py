"""StripeEvent moves here from billing: the table stays (`billing_stripeevent`), only Django's
idea of which app owns it changes, so nothing is copied or locked."""

from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [("billing", "0002_ledger_append_only_trigger")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name="StripeEvent",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("stripe_id", models.CharField(max_length=255, unique=True)),
                        ("type", models.CharField(db_index=True, max_length=100)),
                        (
                            "status",
                            models.CharField(
                                choices=[
                                    ("pending", "Pending"),
                                    ("processed", "Processed"),
                                    ("ignored", "Ignored (type not handled)"),
                                    ("failed", "Failed (Stripe will retry)"),
                                ],
                                default="pending",
                                max_length=20,
                            ),
                        ),
                        ("error", models.TextField(blank=True)),
                        ("attempts", models.PositiveIntegerField(default=0)),
                        ("api_version", models.CharField(blank=True, max_length=40)),
                        ("object_id", models.CharField(blank=True, max_length=255)),
                        ("payload", models.JSONField()),
                        ("received_at", models.DateTimeField(auto_now_add=True)),
                        ("processed_at", models.DateTimeField(blank=True, null=True)),
                    ],
                    options={"db_table": "billing_stripeevent", "ordering": ["-received_at"]},
                ),
            ],
        ),
    ]
