"""StripeEvent now belongs to the stripe_events app (same table); billing forgets it."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0002_ledger_append_only_trigger"),
        ("stripe_events", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[migrations.DeleteModel(name="StripeEvent")],
        ),
    ]
