"""`manage.py verify_ledger`: check every invariant of the credit ledger; non-zero exit if any fails."""

from django.core.management.base import BaseCommand, CommandError

from billing.ledger_checks import verify_ledger


class Command(BaseCommand):
    help = "Verify the credit ledger: cached balances, running balances, signs and causes."

    def handle(self, *args: object, **options: object) -> None:
        problems = verify_ledger()
        for problem in problems:
            self.stderr.write(f"{problem.organization}: {problem.problem}")
        if problems:
            raise CommandError(f"{len(problems)} ledger problem(s) found.")
        self.stdout.write(
            self.style.SUCCESS("Ledger OK: every balance equals the sum of its entries.")
        )
