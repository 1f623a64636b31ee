"""manage.py import_usage FILE --org SLUG: backfill usage from JSONL or CSV.

Uses the same validation and storage as the API, in batches of 1,000, with a progress bar.
Rejected rows are listed with their line number and reason.
"""

import csv
import json
import sys
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from organizations.models import Organization
from usage.ingest import ingest_events
from usage.rollup import rollup_until_caught_up

INTEGER_FIELDS = {
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cost_microdollars",
    "latency_ms",
}


def _csv_event(row: dict) -> dict:
    event: dict = {}
    for name, value in row.items():
        if value is None or value == "":
            continue
        if name in INTEGER_FIELDS:
            try:
                event[name] = int(value)
            except ValueError:
                event[name] = value  # left for the validator to reject with its reason
        else:
            event[name] = value
    return event


def read_events(path: Path) -> Iterator[object]:
    with path.open(encoding="utf-8", newline="") as handle:
        if path.suffix.lower() == ".csv":
            yield from (_csv_event(row) for row in csv.DictReader(handle))
            return
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError as error:
                yield _Malformed(f"line {number}: malformed JSON ({error.msg})")


class _Malformed:
    """Stands in for an unparseable line so the validator rejects it at its position."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


class Command(BaseCommand):
    help = "Import usage events from a JSONL or CSV file (same validation as the API)."

    def add_arguments(self, parser) -> None:  # noqa: ANN001
        parser.add_argument("file", type=Path)
        parser.add_argument("--org", required=True, help="Organization slug")
        parser.add_argument("--no-rollup", action="store_true", help="Leave rolling up to beat")

    def _progress(self, done: int, total: int) -> None:
        width = 30
        filled = width * done // total if total else width
        bar = "#" * filled + "-" * (width - filled)
        sys.stderr.write(f"\r[{bar}] {done:,}/{total:,} events")
        sys.stderr.flush()

    def handle(self, *args: object, **options: object) -> None:
        path: Path = options["file"]
        if not path.exists():
            raise CommandError(f"No such file: {path}")
        organization = Organization.objects.filter(slug=options["org"]).first()
        if organization is None:
            raise CommandError(f"No organization with slug {options['org']!r}.")
        events = list(read_events(path))
        total = len(events)
        size = settings.USAGE_INGEST_MAX_EVENTS
        accepted = duplicate = rejected = 0
        for start in range(0, total, size):
            batch = events[start : start + size]
            result = ingest_events(organization_id=organization.pk, events=batch)
            accepted += result.accepted
            duplicate += result.duplicate
            rejected += result.rejected
            for error in result.errors:
                where = f"row {start + error.index + 1}"
                self.stderr.write(f"\n{where}: {error.field or 'event'} {error.reason}")
            self._progress(min(start + size, total), total)
        sys.stderr.write("\n")
        if not options["no_rollup"]:
            rollup_until_caught_up()
        self.stdout.write(
            self.style.SUCCESS(
                f"Imported {accepted:,} events ({duplicate:,} duplicates, {rejected:,} rejected)."
            )
        )
