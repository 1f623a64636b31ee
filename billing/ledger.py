"""The credit ledger: the one write path (`ledger_append`). The invariant check lives in
`ledger_checks.py` (it also reads the usage rollups, which this module must not import).

Balance = sum of an organization's entries. The cached balance on BillingAccount and each entry's
`balance_after_microdollars` are written in the same transaction as the entry, under a lock on
the account row, so concurrent purchases, refunds and usage debits serialize per organization.
"""

import zoneinfo
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
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("ledger_append() must run inside the causing change's transaction.")
    if not isinstance(amount_microdollars, int) or amount_microdollars == 0:
        raise ValueError("A ledger amount is a non-zero integer number of microdollars.")
    sign = SIGN_RULES[LedgerKind(kind)]
    if sign and (amount_microdollars > 0) != (sign > 0):
        raise ValueError(f"A {kind} entry must be {'positive' if sign > 0 else 'negative'}.")
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


def balance_of(organization: Organization) -> int:
    account = BillingAccount.objects.filter(organization=organization).first()
    return account.balance_microdollars if account else 0
