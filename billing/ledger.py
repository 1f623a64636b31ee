"""The credit ledger: the one write path (`ledger_append`). The invariant check lives in
`ledger_checks.py` (it also reads the usage rollups, which this module must not import).

Balance = sum of an organization's entries. The cached balance on BillingAccount and each entry's
`balance_after_microdollars` are written in the same transaction as the entry, under a lock on
the account row, so concurrent purchases, refunds and usage debits serialize per organization.
"""

import zoneinfo
from dataclasses import dataclass
from datetime import date

from django.db import IntegrityError, transaction
from django.utils import timezone

from organizations.models import Organization

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


def lock_account(organization: Organization) -> BillingAccount:
    """The row every ledger write of the organization serializes on."""
    account_for(organization)
    return BillingAccount.objects.select_for_update().get(organization=organization)


def local_date(organization: Organization, moment=None) -> date:  # noqa: ANN001
    """The day `moment` (default: now) falls on in the organization's time zone."""
    tz = zoneinfo.ZoneInfo(organization.time_zone or "UTC")
    return timezone.localtime(moment or timezone.now(), tz).date()


def _check(kind: str, amount_microdollars: int) -> None:
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("The ledger is written inside the causing change's transaction.")
    if not isinstance(amount_microdollars, int) or amount_microdollars == 0:
        raise ValueError("A ledger amount is a non-zero integer number of microdollars.")
    sign = SIGN_RULES[LedgerKind(kind)]
    if sign and (amount_microdollars > 0) != (sign > 0):
        raise ValueError(f"A {kind} entry must be {'positive' if sign > 0 else 'negative'}.")


def ledger_append(
    *,
    organization: Organization,
    kind: str,
    amount_microdollars: int,
    idempotency_key: str,
    description: str = "",
    created_by=None,  # noqa: ANN001
    effective_date: date | None = None,
    usage_day: date | None = None,
    **links: object,
) -> CreditLedgerEntry | None:
    """Append one entry; returns None when an entry with this idempotency key already exists.

    Must run inside the caller's transaction (the change that causes the entry). The caller
    reacts to the new balance (alerts, auto top-up: `billing.balance.ledger_post` does both);
    this module only keeps the books, so it imports models alone.
    `effective_date` defaults to today in the organization's time zone.
    """
    _check(kind, amount_microdollars)
    account = lock_account(organization)
    if CreditLedgerEntry.objects.filter(idempotency_key=idempotency_key).exists():
        return None
    new_balance = account.balance_microdollars + amount_microdollars
    now = timezone.now()
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
                created_at=now,
                effective_date=effective_date or local_date(organization, now),
                usage_day=usage_day,
                **links,
            )
    except IntegrityError:
        # Another organization's entry took this key first (keys are global): still a duplicate.
        return None
    account.balance_microdollars = new_balance
    account.save(update_fields=["balance_microdollars", "updated_at"])
    return entry


@dataclass(frozen=True)
class NewEntry:
    """One entry of a batch (`ledger_append_many`); the same fields as `ledger_append`."""

    kind: str
    amount_microdollars: int
    idempotency_key: str
    description: str = ""
    effective_date: date | None = None
    usage_day: date | None = None
    source_ref: str = ""


def ledger_append_many(
    *, organization: Organization, entries: list[NewEntry]
) -> list[CreditLedgerEntry]:
    """Append several entries of one organization, in order, under one lock and one INSERT
    (a catch-up of many usage days costs a handful of queries, not a dozen per day).

    Entries whose idempotency key exists (or repeats in the batch) are skipped; returns the
    entries written. Same rules as `ledger_append`: inside the caller's transaction.
    """
    for new in entries:
        _check(new.kind, new.amount_microdollars)
    if not entries:
        return []
    account = lock_account(organization)
    keys = [new.idempotency_key for new in entries]
    taken = set(
        CreditLedgerEntry.objects.filter(idempotency_key__in=keys).values_list(
            "idempotency_key", flat=True
        )
    )
    now = timezone.now()
    today = local_date(organization, now)
    balance = account.balance_microdollars
    rows = []
    for new in entries:
        if new.idempotency_key in taken:
            continue
        taken.add(new.idempotency_key)
        balance += new.amount_microdollars
        rows.append(
            CreditLedgerEntry(
                organization=organization,
                kind=new.kind,
                amount_microdollars=new.amount_microdollars,
                balance_after_microdollars=balance,
                idempotency_key=new.idempotency_key,
                description=new.description[:255],
                source_ref=new.source_ref,
                created_at=now,
                effective_date=new.effective_date or today,
                usage_day=new.usage_day,
            )
        )
    # One multi-row INSERT: ids follow the list order, which is the running balances' order.
    CreditLedgerEntry.objects.bulk_create(rows)
    account.balance_microdollars = balance
    account.save(update_fields=["balance_microdollars", "updated_at"])
    return rows


def balance_of(organization: Organization) -> int:
    account = BillingAccount.objects.filter(organization=organization).first()
    return account.balance_microdollars if account else 0
