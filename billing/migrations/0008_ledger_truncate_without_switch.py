"""On PostgreSQL, the ledger's append-only trigger no longer has a switch a session can turn on.

0003 let TRUNCATE through when the session set `billing.ledger_truncate_allowed`, which any
session may set: the ledger could be emptied by anyone who could connect. Now UPDATE, DELETE and
TRUNCATE are refused, whatever the session's settings; the application's role has no TRUNCATE
privilege either (`manage.py db_app_role`). The one exception is TRUNCATE by a superuser (the
test suite's flush between tests runs as one): a superuser can drop this trigger anyway, so
refusing them would protect nothing. Corrections to the ledger are new entries, never edits.
"""

from django.db import migrations

FUNCTION = """
CREATE OR REPLACE FUNCTION billing_ledger_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' AND (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'billing_creditledgerentry is append-only (% refused)', TG_OP;
END;
$$ LANGUAGE plpgsql;
"""
# What 0003 left, for going backwards.
OLD_FUNCTION = """
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


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FUNCTION, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(OLD_FUNCTION, params=None)


class Migration(migrations.Migration):
    dependencies = [("billing", "0007_payment_and_top_up_request_keys")]
    operations = [migrations.RunPython(forwards, backwards)]
