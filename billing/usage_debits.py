"""Usage debits: billing claims the cost of rolled-up days (the usage app never calls billing).

For each organization x local day, the day's entries (`usage_day`) must sum to minus the day's
rolled-up cost. `usage_debits_post` posts the difference: a debit dated that day (late events
give a second, smaller debit for the same day), or a credit if the day's cost went down.
The comparison and the posting happen under the organization's account lock, so two runs
never post the same difference; the idempotency key (org, day, entry number, running total)
makes that a database-enforced rule as well. A rerun with nothing new posts nothing.

Beat runs it every minute over the last USAGE_DEBIT_LOOKBACK_DAYS days, and nightly over the
whole retention period (events may arrive up to USAGE_RETENTION_DAYS late).
"""

from dataclasses import dataclass
from datetime import date, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Sum
from django.utils import timezone

from organizations.models import Organization
from usage.selectors import daily_costs

from .balance import ledger_post_many
from .ledger import NewEntry, lock_account
from .models import CreditLedgerEntry, LedgerKind


@dataclass(frozen=True)
class DayDebit:
    debited: int  # microdollars, positive = money taken
    entries: int


def debited_by_day(
    *, since: date | None = None, organization_ids: list[int] | None = None
) -> dict[tuple[int, date], DayDebit]:
    """What the ledger has taken for each (organization id, usage day), days >= `since`."""
    entries = CreditLedgerEntry.objects.filter(usage_day__isnull=False)
    if since is not None:
        entries = entries.filter(usage_day__gte=since)
    if organization_ids is not None:
        entries = entries.filter(organization_id__in=organization_ids)
    rows = (
        entries.order_by()
        .values_list("organization_id", "usage_day")
        .annotate(total=Sum("amount_microdollars"), n=Count("id"))
    )
    return {(org, day): DayDebit(-int(total), n) for org, day, total, n in rows}


def _since(lookback_days: int | None) -> date | None:
    if lookback_days is None:
        return None
    # UTC today minus one more day: every time zone's "that many days ago" is covered.
    return timezone.now().date() - timedelta(days=lookback_days + 1)


def usage_debits_post(
    *, lookback_days: int | None = None, organization_ids: list[int] | None = None
) -> int:
    """Post every (org, day) difference between rolled-up cost and debits. Returns entries."""
    since = _since(lookback_days)
    costs = daily_costs(since=since, organization_ids=organization_ids)
    debited = debited_by_day(since=since, organization_ids=organization_ids)
    behind = sorted(
        {
            org
            for org, day in costs.keys() | debited.keys()
            if costs.get((org, day), 0) != _taken(debited, org, day)
        }
    )
    return sum(_post_organization(org, since) for org in behind)


def _taken(debited: dict[tuple[int, date], DayDebit], org: int, day: date) -> int:
    found = debited.get((org, day))
    return found.debited if found else 0


def _post_organization(organization_id: int, since: date | None) -> int:
    """One organization, one transaction: re-read both sides under its account lock."""
    organization = Organization.objects.filter(pk=organization_id).first()
    if organization is None:
        return 0  # rollups of a deleted organization
    with transaction.atomic():
        lock_account(organization)
        costs = daily_costs(since=since, organization_ids=[organization_id])
        debited = debited_by_day(since=since, organization_ids=[organization_id])
        days = {day: cost for (_, day), cost in costs.items()}
        for _, day in debited:
            days.setdefault(day, 0)
        entries = [
            entry
            for day in sorted(days)
            if (
                entry := _day_entry(
                    organization, day, days[day], debited.get((organization_id, day))
                )
            )
        ]
        return ledger_post_many(organization=organization, entries=entries)


def _day_entry(
    organization: Organization, day: date, cost: int, already: DayDebit | None
) -> NewEntry | None:
    """The entry that brings the day's debits to its rolled-up cost (None: already there)."""
    already = already or DayDebit(0, 0)
    difference = cost - already.debited
    if difference == 0:
        return None
    if difference > 0:
        kind = LedgerKind.USAGE
        label = "Late usage" if already.entries else "Usage"
        description = f"{label} on {day:%d %b %Y}"
    else:  # the day's cost went down: give the difference back
        kind = LedgerKind.ADJUSTMENT
        description = f"Usage correction for {day:%d %b %Y}"
    return NewEntry(
        kind=kind,
        amount_microdollars=-difference,
        idempotency_key=(
            f"usage-day:org{organization.pk}:{day.isoformat()}"
            f":entry{already.entries + 1}:total{cost}"
        ),
        description=description,
        effective_date=day,
        usage_day=day,
        source_ref=f"rollup:{day.isoformat()}",
    )


def usage_debits_post_recent() -> int:
    return usage_debits_post(lookback_days=settings.USAGE_DEBIT_LOOKBACK_DAYS)


def usage_debits_post_all() -> int:
    return usage_debits_post(lookback_days=settings.USAGE_RETENTION_DAYS)
