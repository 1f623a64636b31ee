"""The PostgreSQL role the application connects as in production, and what it may do.

Migrations run as the tables' owner; web, worker and beat connect as a role that owns nothing,
is no superuser, and may only read and write rows. On the append-only tables it may not delete
(nor TRUNCATE anything): the credit ledger takes INSERTs only; audit events take INSERTs and the
one UPDATE Django makes when an acting user is deleted (the trigger checks that nothing else
changes); the audit trail takes the head's advance, the rest is the triggers' business. Retention
and partition upkeep go through SECURITY DEFINER functions owned by other roles (audit 0007,
usage 0009), so the app role holds EXECUTE on those and nothing more.

`manage.py db_app_role ROLE` applies these grants; run it after every `migrate` (new tables).
"""

import re

from django.db.backends.base.base import BaseDatabaseWrapper

# Table -> the only privileges the application's role gets on it (all others: SELECT, INSERT,
# UPDATE, DELETE).
RESTRICTED_TABLES = {
    "billing_creditledgerentry": "SELECT, INSERT",
    "audit_auditevent": "SELECT, INSERT, UPDATE",
    "audit_audittrail": "SELECT, INSERT, UPDATE",
    # The application never records a migration; only the owner does.
    "django_migrations": "SELECT",
}
FUNCTIONS = (
    "audit_prune(bigint, timestamptz, integer)",
    "usage_partition_create(text, date)",
    "usage_partition_drop(text)",
)
ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class RoleError(ValueError):
    """The role cannot serve as the application's role; the message says why."""


def app_role_statements(connection: BaseDatabaseWrapper, role: str) -> list[str]:
    """The GRANT/REVOKE statements that give `role` exactly what the application needs."""
    if not ROLE_NAME.match(role):
        raise RoleError(f"{role!r} is not a plain lower-case role name.")
    quote = connection.ops.quote_name
    who = quote(role)
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_schema()")
        schema = quote(cursor.fetchone()[0])
        # A function a later migration adds is granted once that migration has run.
        cursor.execute(
            "SELECT name FROM unnest(%s::text[]) AS name WHERE to_regprocedure(name) IS NOT NULL",
            [list(FUNCTIONS)],
        )
        existing = {name for (name,) in cursor.fetchall()}
    statements = [
        f"GRANT USAGE ON SCHEMA {schema} TO {who}",
        f"REVOKE ALL ON ALL TABLES IN SCHEMA {schema} FROM {who}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {who}",
    ]
    for table, privileges in RESTRICTED_TABLES.items():
        statements.append(f"REVOKE ALL ON {quote(table)} FROM {who}")
        statements.append(f"GRANT {privileges} ON {quote(table)} TO {who}")
    statements.append(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {who}")
    statements += [
        f"GRANT EXECUTE ON FUNCTION {name} TO {who}" for name in FUNCTIONS if name in existing
    ]
    return statements


def app_role_check(connection: BaseDatabaseWrapper, role: str) -> None:
    """Refuse a role that is a superuser, may bypass row security, or owns anything here: such a
    role could drop the triggers that keep the ledger and the audit trail append-only."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT rolsuper OR rolbypassrls OR rolcreaterole, "
            "(SELECT count(*) FROM pg_class WHERE relowner = r.oid) "
            "+ (SELECT count(*) FROM pg_proc WHERE proowner = r.oid) "
            "+ (SELECT count(*) FROM pg_namespace WHERE nspowner = r.oid) "
            "FROM pg_roles r WHERE rolname = %s",
            [role],
        )
        row = cursor.fetchone()
    if row is None:
        raise RoleError(f"Role {role} does not exist (use --create).")
    privileged, owned = row
    if privileged:
        raise RoleError(f"Role {role} is a superuser or may create roles; use a plain role.")
    if owned:
        raise RoleError(f"Role {role} owns {owned} object(s) in this database; it must own none.")


def app_role_create(connection: BaseDatabaseWrapper, role: str, password: str) -> bool:
    """Create the login role if it is missing (True if created), else set its password."""
    if not ROLE_NAME.match(role):
        raise RoleError(f"{role!r} is not a plain lower-case role name.")
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
        exists = cursor.fetchone() is not None
        who = connection.ops.quote_name(role)
        # Utility statements take no bind parameters; %s is quoted as a literal by the driver.
        if exists:
            cursor.execute(f"ALTER ROLE {who} PASSWORD %s", [password])
        else:
            cursor.execute(
                f"CREATE ROLE {who} LOGIN PASSWORD %s NOSUPERUSER NOCREATEDB NOCREATEROLE "
                "NOINHERIT NOREPLICATION NOBYPASSRLS",
                [password],
            )
    return not exists


def app_role_grant(connection: BaseDatabaseWrapper, role: str) -> list[str]:
    """Check the role, then apply the grants; returns the statements run."""
    app_role_check(connection, role)
    statements = app_role_statements(connection, role)
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)
    return statements
