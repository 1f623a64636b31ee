"""Posting to the credit ledger and reacting to the new balance (low-balance alert, auto top-up).

`ledger.py` keeps the books and imports models only; every service that moves credits posts
through `ledger_post`, which appends the entry and then lets alerts and auto top-up react, in
the same transaction. Their emails and charges are queued on commit, by task name, so this
module does not import the tasks module (which imports the services).
"""

import zoneinfo
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from kilo_dashboard.jobs import enqueue
from organizations.models import Organization
from providers.services import gateway_credit_record

from .ledger import NewEntry, ledger_append, ledger_append_many
from .models import AutoTopUp, CreditLedgerEntry, LowBalanceAlert


def _tz(organization: Organization) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(organization.time_zone or "UTC")


def period_key(organization: Organization, when: datetime | None = None) -> str:
    """The billing period (calendar month in the org's time zone) containing `when`."""
    local = timezone.localtime(when or timezone.now(), timezone=_tz(organization))
    return f"{local.year:04d}-{local.month:02d}"


def _queue(task_name: str, *args: object) -> None:
    transaction.on_commit(lambda: enqueue(task_name, *args))


def balance_changed(organization: Organization, *, old_balance: int, new_balance: int) -> None:
    """Inside the transaction that moved the balance: tell the model gateway when credit runs
    out or comes back, alert once per downward crossing and start an auto top-up (at most once
    per period)."""
    if (old_balance > 0) != (new_balance > 0):  # the gateway refuses requests without credit
        gateway_credit_record(organization_id=organization.pk, has_credit=new_balance > 0)
    alert = LowBalanceAlert.objects.select_for_update().filter(organization=organization).first()
    if alert and alert.enabled:
        threshold = alert.threshold_microdollars
        if new_balance < threshold and not alert.alerted:
            alert.alerted, alert.last_alerted_at = True, timezone.now()
            alert.save(update_fields=["alerted", "last_alerted_at"])
            _queue("billing.tasks.send_low_balance_email", organization.pk, new_balance)
        elif new_balance >= threshold and alert.alerted:
            alert.alerted = False  # re-armed: the next downward crossing emails again
            alert.save(update_fields=["alerted"])
    top_up = AutoTopUp.objects.filter(organization=organization, enabled=True).first()
    if (
        top_up
        and new_balance < old_balance
        and new_balance < top_up.threshold_microdollars
        and top_up.last_charged_period != period_key(organization)
    ):
        _queue("billing.tasks.run_auto_top_up", organization.pk)


def ledger_post(*, organization: Organization, **entry: object) -> CreditLedgerEntry | None:
    """`ledger_append` (same arguments), then the balance's reactions. None = duplicate key."""
    posted = ledger_append(organization=organization, **entry)
    if posted is not None:
        new_balance = posted.balance_after_microdollars
        balance_changed(
            organization,
            old_balance=new_balance - posted.amount_microdollars,
            new_balance=new_balance,
        )
    return posted


def ledger_post_many(*, organization: Organization, entries: list[NewEntry]) -> int:
    """`ledger_append_many`, then the balance's reactions once. Returns entries written."""
    posted = ledger_append_many(organization=organization, entries=entries)
    if posted:
        first, last = posted[0], posted[-1]
        balance_changed(
            organization,
            old_balance=first.balance_after_microdollars - first.amount_microdollars,
            new_balance=last.balance_after_microdollars,
        )
    return len(posted)
