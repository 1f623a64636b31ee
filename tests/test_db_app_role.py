"""`manage.py db_app_role`: the role production connects as holds no TRUNCATE, no DELETE or
UPDATE where rows are append-only, owns nothing, and is refused if it is a superuser."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from tests.app_role import app_role_name

APPEND_ONLY = ("billing_creditledgerentry", "audit_auditevent", "audit_audittrail")


def _create(role):
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE ROLE {role} NOLOGIN")


def _privileges(role, sql):
    with connection.cursor() as cursor:
        cursor.execute(sql, {"role": role})
        return cursor.fetchall()


@pytest.mark.django_db
def test_the_role_gets_rows_only_and_nothing_that_rewrites_append_only_tables():
    role = app_role_name()
    _create(role)
    call_command("db_app_role", role, stdout=StringIO())

    truncatable = _privileges(
        role,
        "SELECT c.relname FROM pg_class c WHERE c.relnamespace = current_schema()::regnamespace "
        "AND c.relkind IN ('r', 'p') AND has_table_privilege(%(role)s, c.oid, 'TRUNCATE')",
    )
    assert truncatable == []
    rights = dict(
        _privileges(
            role,
            "SELECT t, has_table_privilege(%(role)s, t, 'INSERT') "
            "AND NOT has_table_privilege(%(role)s, t, 'DELETE') "
            "FROM unnest(ARRAY['billing_creditledgerentry', 'audit_auditevent', "
            "'audit_audittrail']) AS t",
        )
    )
    assert rights == dict.fromkeys(APPEND_ONLY, True)
    assert _privileges(
        role,
        "SELECT has_table_privilege(%(role)s, 'billing_creditledgerentry', 'UPDATE'), "
        "has_table_privilege(%(role)s, 'organizations_organization', 'DELETE'), "
        "has_function_privilege(%(role)s, 'audit_prune(bigint, timestamptz, integer)', "
        "'EXECUTE'), pg_has_role(%(role)s, 'kilo_maintenance', 'MEMBER')",
    ) == [(False, True, True, False)]


@pytest.mark.django_db
def test_a_superuser_or_a_role_that_owns_tables_is_refused():
    with pytest.raises(CommandError, match="superuser"):
        call_command("db_app_role", "postgres", stdout=StringIO())
    role = app_role_name("_owner")
    _create(role)
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE owned_by_app (id int); ALTER TABLE owned_by_app OWNER TO {role}"
        )
    with pytest.raises(CommandError, match="owns 1 object"):
        call_command("db_app_role", role, stdout=StringIO())
