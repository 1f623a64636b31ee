"""Refund intents (reserved amount per payment, checked by the database), ledger effective dates
and usage days, and an append-only trigger that also refuses TRUNCATE.

Existing ledger rows get their effective date from their creation time in the organization's
time zone; existing usage debits (one per rollup window) count for the local day they were
posted on, so the per-day usage poster corrects each day to its rolled-up cost from there.
"""

import uuid
import zoneinfo

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

# One UPDATE only: a second one would touch row versions this transaction wrote, which queues
# deferred foreign-key checks and makes the ALTER TABLE below fail ("pending trigger events").
# TRUNCATE is a statement, not rows: a statement-level trigger refuses it. The one exception is
# a session that sets billing.ledger_truncate_allowed (the test suite, whose database flush
# between tests truncates every table); nothing in the application sets it.
FUNCTION = """
CREATE OR REPLACE FUNCTION billing_ledger_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'TRUNCATE'
       AND coalesce(current_setting('billing.ledger_truncate_allowed', true), '') = 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'billing_creditledgerentry is append-only (% refused)', TG_OP;
END;
$$ LANGUAGE plpgsql;
"""
OLD_FUNCTION = """
CREATE OR REPLACE FUNCTION billing_ledger_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'billing_creditledgerentry is append-only (% refused)', TG_OP;
END;
$$ LANGUAGE plpgsql;
"""
TRUNCATE_TRIGGER = """
CREATE TRIGGER billing_ledger_no_truncate
    BEFORE TRUNCATE ON billing_creditledgerentry
    FOR EACH STATEMENT EXECUTE FUNCTION billing_ledger_append_only();
"""
DROP_TRUNCATE_TRIGGER = (
    "DROP TRIGGER IF EXISTS billing_ledger_no_truncate ON billing_creditledgerentry;"
)
BACKFILL_POSTGRESQL = """
ALTER TABLE billing_creditledgerentry DISABLE TRIGGER billing_ledger_append_only;
UPDATE billing_creditledgerentry e
   SET effective_date = (e.created_at AT TIME ZONE coalesce(nullif(o.time_zone, ''), 'UTC'))::date,
       usage_day = CASE WHEN e.kind = 'usage'
           THEN (e.created_at AT TIME ZONE coalesce(nullif(o.time_zone, ''), 'UTC'))::date END
  FROM organizations_organization o
 WHERE o.id = e.organization_id;
SET CONSTRAINTS ALL IMMEDIATE;
ALTER TABLE billing_creditledgerentry ENABLE TRIGGER billing_ledger_append_only;
"""


def backfill(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKFILL_POSTGRESQL, params=None)
        schema_editor.execute(FUNCTION, params=None)
        schema_editor.execute(TRUNCATE_TRIGGER, params=None)
    else:  # SQLite (the demo): no trigger, convert in Python
        Entry = apps.get_model("billing", "CreditLedgerEntry")
        for entry in Entry.objects.select_related("organization").iterator():
            tz = zoneinfo.ZoneInfo(entry.organization.time_zone or "UTC")
            day = entry.created_at.astimezone(tz).date()
            Entry.objects.filter(pk=entry.pk).update(
                effective_date=day, usage_day=day if entry.kind == "usage" else None
            )
    Payment = apps.get_model("billing", "Payment")
    Payment.objects.update(refund_reserved_cents=models.F("amount_refunded_cents"))
    Refund = apps.get_model("billing", "Refund")
    for refund in Refund.objects.all():
        Refund.objects.filter(pk=refund.pk).update(public_id=uuid.uuid4())


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_TRUNCATE_TRIGGER, params=None)
        schema_editor.execute(OLD_FUNCTION, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0002_ledger_append_only_trigger"),
        ("organizations", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="creditledgerentry",
            name="effective_date",
            field=models.DateField(null=True),
        ),
        migrations.AddField(
            model_name="creditledgerentry",
            name="usage_day",
            field=models.DateField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="payment",
            name="refund_reserved_cents",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="refund",
            name="public_id",
            field=models.UUIDField(null=True, editable=False),
        ),
        migrations.AddField(
            model_name="refund",
            name="completed_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="refund",
            name="failure_reason",
            field=models.CharField(blank=True, max_length=500),
        ),
        migrations.AddField(
            model_name="refund",
            name="request_key",
            field=models.CharField(blank=True, max_length=255, null=True, unique=True),
        ),
        migrations.AddField(
            model_name="refund",
            name="requested_by",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        # Rows from before intents existed were all refunds Stripe confirmed.
        migrations.AddField(
            model_name="refund",
            name="state",
            field=models.CharField(
                choices=[
                    ("reserved", "Requested (amount reserved, Stripe not confirmed yet)"),
                    ("succeeded", "Refunded"),
                    ("released", "Not refunded (Stripe refused; reservation released)"),
                ],
                default="succeeded",
                max_length=20,
            ),
        ),
        migrations.AlterField(
            model_name="refund",
            name="state",
            field=models.CharField(
                choices=[
                    ("reserved", "Requested (amount reserved, Stripe not confirmed yet)"),
                    ("succeeded", "Refunded"),
                    ("released", "Not refunded (Stripe refused; reservation released)"),
                ],
                default="reserved",
                max_length=20,
            ),
        ),
        migrations.AlterField(
            model_name="refund",
            name="status",
            field=models.CharField(blank=True, help_text="Stripe's refund status.", max_length=20),
        ),
        migrations.AlterField(
            model_name="refund",
            name="stripe_id",
            field=models.CharField(blank=True, max_length=255, null=True, unique=True),
        ),
        migrations.RunPython(backfill, backwards),
        migrations.AlterField(
            model_name="creditledgerentry",
            name="effective_date",
            field=models.DateField(),
        ),
        migrations.AlterField(
            model_name="refund",
            name="public_id",
            field=models.UUIDField(default=uuid.uuid4, editable=False, unique=True),
        ),
        migrations.AddIndex(
            model_name="creditledgerentry",
            index=models.Index(
                fields=["organization", "effective_date"], name="ledger_org_effective"
            ),
        ),
        migrations.AddIndex(
            model_name="creditledgerentry",
            index=models.Index(fields=["organization", "usage_day"], name="ledger_org_usage_day"),
        ),
        migrations.AddConstraint(
            model_name="payment",
            constraint=models.CheckConstraint(
                condition=models.Q(("refund_reserved_cents__lte", models.F("amount_cents"))),
                name="payment_refunds_within_amount",
            ),
        ),
        migrations.AddConstraint(
            model_name="payment",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("amount_refunded_cents__lte", models.F("refund_reserved_cents"))
                ),
                name="payment_refunded_within_reserved",
            ),
        ),
        migrations.AddConstraint(
            model_name="refund",
            constraint=models.CheckConstraint(
                condition=models.Q(("amount_cents__gt", 0)), name="refund_amount_positive"
            ),
        ),
    ]
