"""Re-encrypt every SSO secret with the first key of SSO_ENCRYPTION_KEYS (README: key rotation):
OpenID Connect client secrets and the private keys of SAML connections."""

from django.core.management.base import BaseCommand
from django.db import transaction

from sso import crypto
from sso.models import Connection

SECRET_FIELDS = ("client_secret_encrypted", "saml_sp_private_key_encrypted")


class Command(BaseCommand):
    help = (
        "Re-encrypt SSO connection secrets and SAML private keys with the newest key (the first "
        "of SSO_ENCRYPTION_KEYS)."
    )

    def handle(self, *args: object, **options: object) -> None:
        count = 0
        with transaction.atomic():
            for connection in Connection.objects.select_for_update().order_by("pk"):
                changed = [field for field in SECRET_FIELDS if getattr(connection, field)]
                for field in changed:
                    setattr(connection, field, crypto.rotate(getattr(connection, field)))
                    count += 1
                if changed:
                    connection.save(update_fields=changed)
        self.stdout.write(f"Re-encrypted {count} secret(s) with the newest key.")
