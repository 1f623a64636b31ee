"""De-duplication keys become (organization, UTC day of the event, request id), partitioned by
month on PostgreSQL like the events.

With one unique index over every key of the retention period, each accepted event inserted into
a random page of an index that outgrew PostgreSQL's buffers (4 GB at 24M keys), and ingestion
slowed as keys accumulated. Keyed by day first, a batch's inserts land in the pages of the days
it reports; partitioned by month, retention drops a month's keys with the month's events.

Existing keys are copied (their day from the stored event time), so nothing already accepted
can be accepted again. Django cannot turn a table's primary key into a composite one, so the
table is rebuilt here and the model state is replaced beside it.
"""

from django.db import migrations, models
from django.utils import timezone

POSTGRESQL = """
CREATE TABLE usage_ingestedrequest_new (
    organization_id bigint NOT NULL,
    occurred_on date NOT NULL,
    request_id varchar(128) NOT NULL,
    CONSTRAINT usage_ingestedrequest_day_pk PRIMARY KEY (organization_id, occurred_on, request_id)
) PARTITION BY RANGE (occurred_on);
CREATE TABLE usage_ingestedrequest_default PARTITION OF usage_ingestedrequest_new DEFAULT;
"""

COPY_POSTGRESQL = """
INSERT INTO usage_ingestedrequest_new (organization_id, occurred_on, request_id)
SELECT organization_id, (occurred_at AT TIME ZONE 'UTC')::date, request_id
FROM usage_ingestedrequest;
DROP TABLE usage_ingestedrequest;
ALTER TABLE usage_ingestedrequest_new RENAME TO usage_ingestedrequest;
"""

SQLITE = """
CREATE TABLE usage_ingestedrequest_new (
    organization_id bigint NOT NULL,
    occurred_on date NOT NULL,
    request_id varchar(128) NOT NULL,
    PRIMARY KEY (organization_id, occurred_on, request_id)
);
INSERT INTO usage_ingestedrequest_new (organization_id, occurred_on, request_id)
SELECT organization_id, date(occurred_at), request_id FROM usage_ingestedrequest;
DROP TABLE usage_ingestedrequest;
ALTER TABLE usage_ingestedrequest_new RENAME TO usage_ingestedrequest;
"""


def rebuild(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        for statement in SQLITE.split(";"):
            if statement.strip():
                schema_editor.execute(statement)
        return
    schema_editor.execute(POSTGRESQL)
    from usage.partitions import KEYS_TABLE, ensure_partitions

    # The same months as the events' partitions (0002): 13 back, 3 ahead.
    ensure_partitions(
        timezone.now().date(),
        months_back=13,
        months_ahead=3,
        tables=[(KEYS_TABLE, "usage_ingestedrequest_new")],
    )
    schema_editor.execute(COPY_POSTGRESQL)


class Migration(migrations.Migration):
    dependencies = [("usage", "0007_ingestkey_scope")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(rebuild)],
            state_operations=[
                migrations.DeleteModel(name="IngestedRequest"),
                migrations.CreateModel(
                    name="IngestedRequest",
                    fields=[
                        (
                            "pk",
                            models.CompositePrimaryKey(
                                "organization_id",
                                "occurred_on",
                                "request_id",
                                blank=True,
                                editable=False,
                                primary_key=True,
                                serialize=False,
                            ),
                        ),
                        ("organization_id", models.BigIntegerField()),
                        ("occurred_on", models.DateField()),
                        ("request_id", models.CharField(max_length=128)),
                    ],
                ),
            ],
        )
    ]
