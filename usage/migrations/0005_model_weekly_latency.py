"""Model latency histograms per local week, filled from the daily ones (histograms merge by
adding counts), so that a window's percentiles read whole weeks instead of every day."""

from django.db import migrations, models


def fill_weeks_from_days(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        week = "CAST(date_trunc('week', d.day) AS DATE)"
        each, object_agg = "jsonb_each_text", "jsonb_object_agg"
    else:  # SQLite (the demo): the next Sunday (or the day itself), less six days
        week = "date(d.day, 'weekday 0', '-6 days')"
        each, object_agg = "json_each", "json_group_object"
    schema_editor.execute(
        "INSERT INTO usage_modelweeklylatency "  # noqa: S608
        "(organization_id, week, model, provider, latency_histogram) "
        f"SELECT organization_id, week, model, provider, {object_agg}(bucket, n) FROM ("
        f"SELECT d.organization_id, {week} AS week, d.model, d.provider, h.key AS bucket, "
        "SUM(CAST(h.value AS BIGINT)) AS n FROM usage_modeldailyrollup d "
        f"CROSS JOIN {each}(d.latency_histogram) h GROUP BY 1, 2, 3, 4, 5) per_bucket "
        "GROUP BY organization_id, week, model, provider"
    )


class Migration(migrations.Migration):

    dependencies = [
        ('usage', '0004_hour_of_day_columns'),
    ]

    operations = [
        migrations.CreateModel(
            name='ModelWeeklyLatency',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('organization_id', models.BigIntegerField()),
                ('week', models.DateField(help_text="The Monday the week starts on, in the organization's zone.")),
                ('model', models.CharField(max_length=128)),
                ('provider', models.CharField(max_length=64)),
                ('latency_histogram', models.JSONField(default=dict)),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('organization_id', 'week', 'model', 'provider'), name='modelweeklylatency_unique')],
            },
        ),
        migrations.RunPython(fill_weeks_from_days, migrations.RunPython.noop),
    ]
