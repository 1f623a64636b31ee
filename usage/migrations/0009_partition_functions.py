"""On PostgreSQL, the monthly partitions are created and dropped through two SECURITY DEFINER
functions owned by the tables' owner (the role migrations run as).

Creating a partition of a table, or dropping one, needs ownership of it; the application's role
owns nothing (kilo_dashboard/db_roles.py), so the daily partition task calls these instead. They
accept only the two partitioned usage tables and their monthly partitions, and never drop the
current month or a later one. Nothing on SQLite (the demo).
"""

from django.db import migrations

FUNCTIONS = """
CREATE OR REPLACE FUNCTION usage_partition_create(p_parent text, p_month date)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = {schema}, pg_temp
SET TimeZone = 'UTC'
AS $$
DECLARE
    v_start date := date_trunc('month', p_month)::date;
    v_name text;
BEGIN
    IF p_parent NOT IN ('usage_usageevent', 'usage_ingestedrequest') THEN
        RAISE EXCEPTION 'usage_partition_create: % is not a partitioned usage table', p_parent;
    END IF;
    v_name := p_parent || '_y' || to_char(v_start, 'YYYY') || 'm' || to_char(v_start, 'MM');
    IF to_regclass(v_name) IS NOT NULL THEN
        RETURN false;
    END IF;
    EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
                   v_name, p_parent, v_start, (v_start + interval '1 month')::date);
    RETURN true;
END;
$$;
CREATE OR REPLACE FUNCTION usage_partition_drop(p_name text)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = {schema}, pg_temp
SET TimeZone = 'UTC'
AS $$
DECLARE
    v_parent text := substring(p_name from '^(usage_usageevent|usage_ingestedrequest)_y[0-9]{{4}}m[0-9]{{2}}$');
    v_month date;
BEGIN
    IF v_parent IS NULL OR NOT EXISTS (
        SELECT 1 FROM pg_inherits
         WHERE inhrelid = to_regclass(p_name) AND inhparent = to_regclass(v_parent)
    ) THEN
        RAISE EXCEPTION 'usage_partition_drop: % is not a monthly usage partition', p_name;
    END IF;
    v_month := to_date(right(p_name, 7), 'YYYY"m"MM');
    IF v_month >= date_trunc('month', now())::date THEN
        RAISE EXCEPTION 'usage_partition_drop: % is the current month or later', p_name;
    END IF;
    EXECUTE format('DROP TABLE %I', p_name);
    RETURN true;
END;
$$;
REVOKE ALL ON FUNCTION usage_partition_create(text, date) FROM PUBLIC;
REVOKE ALL ON FUNCTION usage_partition_drop(text) FROM PUBLIC;
"""
DROP = """
DROP FUNCTION IF EXISTS usage_partition_create(text, date);
DROP FUNCTION IF EXISTS usage_partition_drop(text);
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT quote_ident(current_schema())")
        schema = cursor.fetchone()[0]
    schema_editor.execute(FUNCTIONS.format(schema=schema), params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("usage", "0008_ingestedrequest_by_day")]
    operations = [migrations.RunPython(forwards, backwards)]
