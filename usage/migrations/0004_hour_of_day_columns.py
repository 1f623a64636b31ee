"""The weekly pattern moves from four hourly rollups into the daily ones: every daily rollup row
counts its requests per local hour (requests_h00 .. requests_h23).

Hourly rows grew with members x models x hours and their upserts were most of a rollup's cost;
a day row with 24 counters gives the same weekday x hour grid exactly. The counters are filled
from the hourly rollups (each UTC hour placed in its organization's local day and hour) before
those are dropped, so no history is lost and no event has to be read again.
"""

from django.db import migrations, models

HOURS = range(24)
# (hourly table, daily table, key columns both share)
PAIRS = (
    ("usage_hourlyrollup", "usage_dailyrollup", ("user_id", "model", "provider")),
    ("usage_modelhourlyrollup", "usage_modeldailyrollup", ("model", "provider")),
    ("usage_memberhourlyrollup", "usage_memberdailyrollup", ("user_id",)),
    ("usage_orghourlyrollup", "usage_orgdailyrollup", ()),
)


def column(hour: int) -> str:
    return f"requests_h{hour:02d}"


def fill_hours_from_hourly_rollups(apps, schema_editor) -> None:
    zone = "COALESCE(o.time_zone, 'UTC')"
    if schema_editor.connection.vendor == "postgresql":
        day = f"(h.hour AT TIME ZONE {zone})::date"
        hour = f"CAST(extract(hour FROM h.hour AT TIME ZONE {zone}) AS INTEGER)"
    else:  # SQLite (the demo): functions Django registers on every connection
        day = f"django_datetime_cast_date(h.hour, {zone}, 'UTC')"
        hour = f"django_datetime_extract('hour', h.hour, {zone}, 'UTC')"
    for hourly, daily, keys in PAIRS:
        sums = ", ".join(
            f"SUM(CASE WHEN {hour} = {n} THEN h.requests ELSE 0 END) AS {column(n)}" for n in HOURS
        )
        group = ", ".join(f"h.{k}" for k in keys)
        match = " ".join(f"AND {daily}.{k} = s.{k}" for k in keys)
        schema_editor.execute(
            f"UPDATE {daily} SET {', '.join(f'{column(n)} = s.{column(n)}' for n in HOURS)} "  # noqa: S608
            f"FROM (SELECT h.organization_id, {day} AS day{', ' + group if keys else ''}, {sums} "
            f"FROM {hourly} h JOIN organizations_organization o ON o.id = h.organization_id "
            f"GROUP BY h.organization_id, 2{', ' + group if keys else ''}) s "
            f"WHERE {daily}.organization_id = s.organization_id AND {daily}.day = s.day {match}"
        )


class Migration(migrations.Migration):
    dependencies = [
        ("organizations", "0001_initial"),
        ("usage", "0003_merge_rollups_histograms"),
    ]

    operations = [
        *(
            migrations.AddField(
                model_name=model_name, name=column(hour), field=models.IntegerField(default=0)
            )
            for model_name in (
                "dailyrollup",
                "modeldailyrollup",
                "memberdailyrollup",
                "orgdailyrollup",
            )
            for hour in HOURS
        ),
        migrations.RunPython(fill_hours_from_hourly_rollups, migrations.RunPython.noop),
        migrations.DeleteModel(name="HourlyRollup"),
        migrations.DeleteModel(name="MemberHourlyRollup"),
        migrations.DeleteModel(name="ModelHourlyRollup"),
        migrations.DeleteModel(name="OrgHourlyRollup"),
    ]
