"""manage.py create_ingest_key <org-slug> <name> [--scope both|ingest|gateway]: print a new
organization API key (shown only here)."""

from django.core.management.base import BaseCommand, CommandError

from audit.services import Actor
from organizations.models import Organization
from usage.models import KeyScope
from usage.services import ingest_key_create


class Command(BaseCommand):
    help = "Create an ingest key for an organization and print it once."

    def add_arguments(self, parser) -> None:  # noqa: ANN001
        parser.add_argument("org_slug")
        parser.add_argument("name")
        parser.add_argument(
            "--scope",
            choices=KeyScope.values,
            default=KeyScope.BOTH,
            help="What the key may call: usage ingest, the gateway API, or both (default).",
        )

    def handle(self, *args: object, **options: str) -> None:
        organization = Organization.objects.filter(slug=options["org_slug"]).first()
        if organization is None:
            raise CommandError(f"No organization with slug {options['org_slug']!r}.")
        key, secret = ingest_key_create(
            actor=Actor.system(),
            organization=organization,
            name=options["name"],
            scope=options["scope"],
        )
        self.stderr.write(f"Created key “{key.name}” for {organization.name}. It is shown once:")
        self.stdout.write(secret)
