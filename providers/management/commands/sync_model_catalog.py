"""manage.py sync_model_catalog [--source FILE|URL]: load or refresh the model catalog."""

from django.core.management.base import BaseCommand, CommandError, CommandParser

from providers.catalog_sync import catalog_sync
from providers.models import SyncStatus


class Command(BaseCommand):
    help = (
        "Validate a models.dev api.json (default: the bundled snapshot) and apply it to the "
        "model catalog in one transaction. A malformed, truncated, empty or partial source "
        "changes nothing; re-running with the same source changes nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--source", help="A file path or an http(s) URL of api.json.")
        parser.add_argument(
            "--policies", help="A provider data-policy file (default: the bundled one)."
        )
        parser.add_argument(
            "--allow-removals",
            action="store_true",
            help="Apply even if the source drops more than 10%% of the models.",
        )

    def handle(self, *args: object, **options: object) -> None:
        result = catalog_sync(
            source=options["source"],
            policies_source=options["policies"],
            allow_removals=options["allow_removals"],
        )
        if result.status == SyncStatus.REFUSED:
            raise CommandError(f"Catalog unchanged. {result.message}")
        self.stdout.write(self.style.SUCCESS(result.message))
