"""Verify the audit hash chain of one organization (--org SLUG) or of all; exit 1 on a break."""

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.maintenance import verify_organization
from audit.models import AuditTrail
from organizations.models import Organization


class Command(BaseCommand):
    help = "Report the first broken or missing link of each organization's audit chain."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", metavar="SLUG", help="Only this organization.")

    def handle(self, *args: object, **options: object) -> None:
        if options["org"]:
            organizations = list(Organization.objects.filter(slug=options["org"]))
            if not organizations:
                raise CommandError(f"No organization with the slug {options['org']!r}.")
        else:
            with_trail = AuditTrail.objects.values("organization_id")
            organizations = list(Organization.objects.filter(pk__in=with_trail).order_by("slug"))
        broken = 0
        for organization in organizations:
            report = verify_organization(organization)
            if report.ok:
                self.stdout.write(
                    f"{organization.slug}: ok, {report.events_checked} events verified "
                    f"(chain through #{report.through_sequence})."
                )
            else:
                broken += 1
                self.stdout.write(f"{organization.slug}: BROKEN. {report.problem}")
        if broken:
            raise CommandError(f"{broken} audit chain(s) broken.", returncode=1)
