"""`manage.py db_app_role ROLE [--create]`: set up the role the application connects as.

Run it as the tables' owner (the role migrations run as), after every `migrate`. With
`--create`, the login role is created (or its password set) from APP_DATABASE_PASSWORD.
"""

import os

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from kilo_dashboard.db_roles import RoleError, app_role_create, app_role_grant


class Command(BaseCommand):
    help = "Grant a non-superuser role exactly what the application needs (PostgreSQL only)."

    def add_arguments(self, parser) -> None:  # noqa: ANN001
        parser.add_argument("role")
        parser.add_argument(
            "--create",
            action="store_true",
            help="Create the login role (password from APP_DATABASE_PASSWORD) if missing.",
        )

    def handle(self, *args, role: str, create: bool, **options) -> None:
        if connection.vendor != "postgresql":
            raise CommandError("Database roles exist on PostgreSQL only.")
        try:
            with transaction.atomic():
                if create:
                    password = os.environ.get("APP_DATABASE_PASSWORD", "")
                    if not password:
                        raise CommandError("Set APP_DATABASE_PASSWORD to create the role.")
                    if app_role_create(connection, role, password):
                        self.stdout.write(f"Created role {role}.")
                statements = app_role_grant(connection, role)
        except RoleError as error:
            raise CommandError(str(error)) from error
        for statement in statements:
            self.stdout.write(statement)
        self.stdout.write(f"Role {role} may read and write rows; it owns nothing.")
