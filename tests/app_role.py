"""Run part of a test as the application's production database role.

The test database's own user is a superuser (pytest-django's flush truncates every table as
one). Production connects as a plain role that owns nothing and holds the grants of
`kilo_dashboard.db_roles`; `as_app_role()` creates such a role inside the test's transaction
(so it is gone at rollback), grants it exactly that, and `SET ROLE`s to it for the block.
"""

import re
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection

from kilo_dashboard.db_roles import app_role_grant


def app_role_name(suffix: str = "") -> str:
    """One name per test database, so that parallel workers never create the same role."""
    name = re.sub(r"[^a-z0-9_]", "_", f"kilo_app_{connection.settings_dict['NAME']}".lower())
    return f"{name[: 63 - len(suffix)]}{suffix}"


@contextmanager
def as_app_role(*, extra_grants: tuple[str, ...] = ()) -> Iterator[str]:
    """The block runs as a fresh app role; `extra_grants` ("TRUNCATE ON t", ...) give it more,
    to show that the triggers refuse what privileges alone would allow."""
    role = app_role_name()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
        if cursor.fetchone() is None:
            cursor.execute(f"CREATE ROLE {role} NOLOGIN NOINHERIT")
    app_role_grant(connection, role)  # starts from nothing: an earlier block's extras are gone
    with connection.cursor() as cursor:
        for grant in extra_grants:
            cursor.execute(f"GRANT {grant} TO {role}")
        cursor.execute(f"SET ROLE {role}")
    try:
        yield role
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET ROLE")
