"""`verify_ledger`: every invariant of the credit ledger, for every organization.

Checked here (the `verify_ledger` command exits non-zero on any problem):
- the cached balance equals the sum of the entries, and each entry's running balance is right;
- signs follow the kind;
- every purchase entry has its payment (succeeded, same organization, same amount), once;
- every refund entry has its refund; per payment, refunds never exceed what was paid;
- every usage day is debited exactly once, net: the day's entries sum to minus its rolled-up
  cost (a day the usage-debit run has not reached yet shows up here too);
- no balance is below zero because of a refund or an adjustment: such a balance is reported with
  the entries that took it there (a refund staff made "anyway", with their reason; one made in
  Stripe's dashboard). A balance below zero from usage alone is not a fault: usage is debited
  after it happened, and the gateway stops serving the organization at zero.
"""

from collections import defaultdict
from dataclasses import dataclass

from django.db.models import Count, Sum

from kilo_dashboard.money import cents_to_microdollars, format_microdollars
from usage.selectors import daily_costs

from .ledger import SIGN_RULES
from .models import (
    BillingAccount,
    CreditLedgerEntry,
    LedgerKind,
    Payment,
    PaymentStatus,
)
from .usage_debits import debited_by_day


@dataclass(frozen=True)
class LedgerProblem:
    organization: str
    problem: str


def verify_ledger() -> list[LedgerProblem]:
    """Empty list = all is well."""
    slugs = dict(BillingAccount.objects.values_list("organization_id", "organization__slug"))
    problems: list[LedgerProblem] = []

    def report(organization_id: int, problem: str) -> None:
        problems.append(LedgerProblem(slugs.get(organization_id, str(organization_id)), problem))

    _balances(report, slugs)
    _entries(report)
    _payments(report)
    _usage_days(report)
    _negative_balances(report)
    return problems


def _balances(report, slugs: dict[int, str]) -> None:  # noqa: ANN001
    sums = dict(
        CreditLedgerEntry.objects.order_by()
        .values_list("organization_id")
        .annotate(total=Sum("amount_microdollars"))
        .values_list("organization_id", "total")
    )
    for organization_id, balance in BillingAccount.objects.values_list(
        "organization_id", "balance_microdollars"
    ):
        total = sums.pop(organization_id, 0) or 0
        if total != balance:
            report(organization_id, f"cached balance {balance} != sum of entries {total}")
    for organization_id in sums:
        report(organization_id, "entries but no billing account")


def _entries(report) -> None:  # noqa: ANN001
    running: dict[int, int] = defaultdict(int)
    broken: set[int] = set()
    for entry in CreditLedgerEntry.objects.order_by("organization_id", "id").iterator():
        org = entry.organization_id
        running[org] += entry.amount_microdollars
        if org not in broken and entry.balance_after_microdollars != running[org]:
            broken.add(org)  # one report per organization: every later entry would differ too
            report(
                org,
                f"entry {entry.public_id}: running balance {running[org]} != "
                f"recorded {entry.balance_after_microdollars}",
            )
        sign = SIGN_RULES[LedgerKind(entry.kind)]
        if sign and (entry.amount_microdollars > 0) != (sign > 0):
            report(org, f"entry {entry.public_id}: wrong sign")
        if entry.kind == LedgerKind.PURCHASE and entry.payment_id is None:
            report(org, f"entry {entry.public_id}: purchase, no payment")
        if entry.kind == LedgerKind.REFUND and (entry.refund_id is None or not entry.payment_id):
            report(org, f"entry {entry.public_id}: refund, no refund or payment")


def _payments(report) -> None:  # noqa: ANN001
    """Per payment: the purchase entry matches it, and refunds stay within it."""
    per_payment = (
        CreditLedgerEntry.objects.filter(payment__isnull=False)
        .order_by()
        .values_list("payment_id", "kind")
        .annotate(total=Sum("amount_microdollars"), n=Count("id"))
    )
    ledger: dict[int, dict[str, tuple[int, int]]] = defaultdict(dict)
    for payment_id, kind, total, n in per_payment:
        ledger[payment_id][kind] = (int(total), n)
    payments = Payment.objects.filter(pk__in=list(ledger)).values_list(
        "pk", "public_id", "organization_id", "status", "amount_cents", "amount_refunded_cents"
    )
    orgs_of_entries = dict(
        CreditLedgerEntry.objects.filter(payment__isnull=False)
        .order_by()
        .values_list("payment_id", "organization_id")
        .distinct()
    )
    for pk, public_id, org, status, amount_cents, refunded_cents in payments:
        paid = cents_to_microdollars(amount_cents)
        purchase_total, purchases = ledger[pk].get(LedgerKind.PURCHASE, (0, 0))
        refund_total, _ = ledger[pk].get(LedgerKind.REFUND, (0, 0))
        if orgs_of_entries.get(pk) != org:
            report(org, f"payment {public_id}: entries of another organization point at it")
        if purchases and (status != PaymentStatus.SUCCEEDED or purchases != 1):
            report(org, f"payment {public_id}: {purchases} purchase entries, status {status}")
        if purchases and purchase_total != paid:
            report(org, f"payment {public_id}: credited {purchase_total} for {paid} paid")
        if -refund_total > purchase_total:
            report(org, f"payment {public_id}: refunds {-refund_total} exceed payment {paid}")
        if -refund_total != cents_to_microdollars(refunded_cents):
            report(
                org,
                f"payment {public_id}: refund entries {-refund_total} != "
                f"refunded {cents_to_microdollars(refunded_cents)}",
            )


def _usage_days(report) -> None:  # noqa: ANN001
    costs = daily_costs()
    debited = debited_by_day()
    for org, day in sorted(costs.keys() | debited.keys()):
        cost = costs.get((org, day), 0)
        found = debited.get((org, day))
        taken = found.debited if found else 0
        if cost != taken:
            report(org, f"usage on {day}: rolled up {cost}, debited {taken}")


def _negative_balances(report) -> None:  # noqa: ANN001
    """Each balance below zero, with the refunds or adjustments that took it there: the entries
    since the balance was last at or above zero that took money out, other than usage."""
    for organization_id, balance in BillingAccount.objects.filter(
        balance_microdollars__lt=0
    ).values_list("organization_id", "balance_microdollars"):
        entries = CreditLedgerEntry.objects.filter(organization_id=organization_id)
        last_at_or_above_zero = (
            entries.filter(balance_after_microdollars__gte=0)
            .order_by("-id")
            .values_list("id", flat=True)
            .first()
        )
        below = entries.filter(id__gt=last_at_or_above_zero or 0, amount_microdollars__lt=0)
        causes = [
            _cause(entry)
            for entry in below.exclude(kind=LedgerKind.USAGE)
            .select_related("refund", "payment")
            .order_by("id")
        ]
        if causes:
            report(
                organization_id,
                f"balance {format_microdollars(balance)} is below zero, taken there by "
                + "; ".join(causes),
            )


def _cause(entry: CreditLedgerEntry) -> str:
    amount = format_microdollars(entry.amount_microdollars)
    refund = entry.refund
    if entry.kind != LedgerKind.REFUND or refund is None:
        return f"{entry.get_kind_display().lower()} {entry.public_id} ({amount}, {entry.description!r})"
    if refund.beyond_balance_reason:
        who = refund.requested_by.email if refund.requested_by else "staff"
        why = f'refunded beyond the unspent credit by {who}: "{refund.beyond_balance_reason}"'
    elif not refund.request_key:
        why = "made in Stripe's dashboard"
    else:
        why = "the balance fell while it was settling"
    return f"refund {refund.public_id} of payment {entry.payment.public_id} ({amount}, {why})"
