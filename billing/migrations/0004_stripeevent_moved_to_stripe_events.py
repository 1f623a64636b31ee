"""StripeEvent now belongs to the stripe_events app (same table); billing forgets it."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0003_refund_intents_effective_dates"),
        ("stripe_events", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[migrations.DeleteModel(name="StripeEvent")],
        ),
    ]
