"""The credit ledger: the one write path (`ledger_append`) and the invariant check.

Balance = sum of an organization's entries. The cached balance on BillingAccount and each entry's
`balance_after_microdollars` are written in the same transaction as the entry, under a lock on
the account row, so concurrent purchases, refunds and usage debits serialize per organization.
"""

from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from organizations.models import Organization
from providers.services import gateway_credit_record

from .models import BillingAccount, CreditLedgerEntry, LedgerKind

SIGN_RULES = {
    LedgerKind.PURCHASE: 1,
    LedgerKind.PROMOTIONAL: 1,
    LedgerKind.USAGE: -1,
    LedgerKind.REFUND: -1,
    LedgerKind.ADJUSTMENT: 0,  # either sign
}


def account_for(organization: Organization) -> BillingAccount:
    account, _ = BillingAccount.objects.get_or_create(organization=organization)
    return account


def _lock_account(organization: Organization) -> BillingAccount:
    account_for(organization)
    return BillingAccount.objects.select_for_update().get(organization=organization)


def ledger_append(
    *,
    organization: Organization,
    kind: str,
    amount_microdollars: int,
    idempotency_key: str,
    description: str = "",
    created_by=None,  # noqa: ANN001
    **links: object,
) -> CreditLedgerEntry | None:
    """Append one entry; returns None when an entry with this idempotency key already exists.

    Must run inside the caller's transaction (the change that causes the entry).
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("ledger_append() must run inside the causing change's transaction.")
    if not isinstance(amount_microdollars, int) or amount_microdollars == 0:
        raise ValueError("A ledger amount is a non-zero integer number of microdollars.")
    sign = SIGN_RULES[LedgerKind(kind)]
    if sign and (amount_microdollars > 0) != (sign > 0):
        raise ValueError(f"A {kind} entry must be {'positive' if sign > 0 else 'negative'}.")
    account = _lock_account(organization)
    if CreditLedgerEntry.objects.filter(idempotency_key=idempotency_key).exists():
        return None
    new_balance = account.balance_microdollars + amount_microdollars
    try:
        with transaction.atomic():
            entry = CreditLedgerEntry.objects.create(
                organization=organization,
                kind=kind,
                amount_microdollars=amount_microdollars,
                balance_after_microdollars=new_balance,
                idempotency_key=idempotency_key,
                description=description[:255],
                created_by=created_by,
                created_at=timezone.now(),
                **links,
            )
    except IntegrityError:
        # Another organization's entry took this key first (keys are global): still a duplicate.
        return None
    old_balance = account.balance_microdollars
    account.balance_microdollars = new_balance
    account.save(update_fields=["balance_microdollars", "updated_at"])
    if (old_balance > 0) != (new_balance > 0):  # the gateway refuses requests without credit
        gateway_credit_record(organization_id=organization.pk, has_credit=new_balance > 0)
    from .services import balance_changed  # alerts and auto top-up react to the new balance

    balance_changed(organization, old_balance=old_balance, new_balance=new_balance)
    return entry


def balance_of(organization: Organization) -> int:
    account = BillingAccount.objects.filter(organization=organization).first()
    return account.balance_microdollars if account else 0


@dataclass(frozen=True)
class LedgerProblem:
    organization: str
    problem: str


def verify_ledger() -> list[LedgerProblem]:
    """Every invariant of the ledger, for every organization. Empty list = all is well."""
    problems: list[LedgerProblem] = []
    sums = dict(
        CreditLedgerEntry.objects.values_list("organization_id")
        .annotate(total=Sum("amount_microdollars"))
        .values_list("organization_id", "total")
    )
    for account in BillingAccount.objects.select_related("organization"):
        slug = account.organization.slug
        total = sums.pop(account.organization_id, 0) or 0
        if total != account.balance_microdollars:
            problems.append(
                LedgerProblem(
                    slug, f"cached balance {account.balance_microdollars} != sum of entries {total}"
                )
            )
        running = 0
        entries = CreditLedgerEntry.objects.filter(organization_id=account.organization_id)
        for entry in entries.order_by("id").iterator():
            running += entry.amount_microdollars
            if entry.balance_after_microdollars != running:
                problems.append(
                    LedgerProblem(
                        slug,
                        f"entry {entry.public_id}: running balance {running} != "
                        f"recorded {entry.balance_after_microdollars}",
                    )
                )
                break
            sign = SIGN_RULES[LedgerKind(entry.kind)]
            if sign and (entry.amount_microdollars > 0) != (sign > 0):
                problems.append(LedgerProblem(slug, f"entry {entry.public_id}: wrong sign"))
            if entry.kind == LedgerKind.PURCHASE and entry.payment_id is None:
                problems.append(
                    LedgerProblem(slug, f"entry {entry.public_id}: purchase, no payment")
                )
            if entry.kind == LedgerKind.REFUND and entry.refund_id is None:
                problems.append(LedgerProblem(slug, f"entry {entry.public_id}: refund, no refund"))
    for organization_id in sums:
        problems.append(LedgerProblem(str(organization_id), "entries but no billing account"))
    return problems
