"""Record which organizations have credit today; from now on billing keeps it up to date."""

from django.db import migrations


def backfill(apps, schema_editor):  # noqa: ANN001, ANN201
    BillingAccount = apps.get_model("billing", "BillingAccount")  # noqa: N806
    GatewayStanding = apps.get_model("providers", "GatewayStanding")  # noqa: N806
    GatewayStanding.objects.bulk_create(
        [
            GatewayStanding(organization_id=account.organization_id, has_credit=True)
            for account in BillingAccount.objects.filter(balance_microdollars__gt=0)
        ],
        ignore_conflicts=True,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("providers", "0001_catalog_and_policy"),
        ("billing", "0002_ledger_append_only_trigger"),
    ]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
