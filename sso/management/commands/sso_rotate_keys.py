"""Re-encrypt every SSO secret with the first key of SSO_ENCRYPTION_KEYS (README: key rotation)."""

from django.core.management.base import BaseCommand
from django.db import transaction

from sso import crypto
from sso.models import Connection


class Command(BaseCommand):
    help = (
        "Re-encrypt SSO connection secrets with the newest key (the first of SSO_ENCRYPTION_KEYS)."
    )

    def handle(self, *args: object, **options: object) -> None:
        count = 0
        with transaction.atomic():
            for connection in Connection.objects.select_for_update().order_by("pk"):
                connection.client_secret_encrypted = crypto.rotate(
                    connection.client_secret_encrypted
                )
                connection.save(update_fields=["client_secret_encrypted"])
                count += 1
        self.stdout.write(f"Re-encrypted {count} secret(s) with the newest key.")
