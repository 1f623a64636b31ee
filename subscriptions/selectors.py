"""Reads for the Subscriptions tab, the seat check, the past-due banner and billing history."""

import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import QuerySet

from organizations.models import Organization, Plan
from organizations.selectors import SeatUsage, seat_usage

from .models import (
    LIVE_STATUSES,
    PAYMENT_PROBLEM_STATUSES,
    SEAT_KINDS,
    Subscription,
    SubscriptionChange,
)
from .plans import BENEFITS, Interval, PlanPrice

SEAT_HISTORY_LIMIT = 25


def subscription_for(organization: Organization) -> Subscription | None:
    return Subscription.objects.filter(organization=organization).first()


def payment_problem(organization: Organization) -> Subscription | None:
    """The subscription, when its payment has failed and it is not settled yet."""
    sub = subscription_for(organization)
    if sub is None or sub.has_ended:
        return None
    if sub.status in PAYMENT_PROBLEM_STATUSES or sub.last_payment_failed_at:
        return sub
    return None


@dataclass(frozen=True)
class PlanCard:
    plan: str
    label: str
    monthly_cents: int
    yearly_cents: int
    benefits: tuple[str, ...]
    is_current: bool
    is_scheduled: bool


@dataclass(frozen=True)
class NextCharge:
    at: datetime | None
    amount_cents: int
    quantity: int
    plan_label: str
    interval_label: str


def plan_cards(sub: Subscription | None) -> list[PlanCard]:
    current = sub.plan if sub and not sub.has_ended else ""
    return [
        PlanCard(
            plan=plan,
            label=f"Kilo {label}",
            monthly_cents=PlanPrice(plan, Interval.MONTH).unit_amount,
            yearly_cents=PlanPrice(plan, Interval.YEAR).unit_amount,
            benefits=BENEFITS[plan],
            is_current=plan == current,
            is_scheduled=bool(sub and sub.scheduled_plan == plan),
        )
        for plan, label in Plan.choices
    ]


def next_charge(sub: Subscription) -> NextCharge | None:
    """The renewal invoice, with the changes scheduled for it (none when cancelling)."""
    if sub.has_ended or sub.cancel_at_period_end:
        return None
    plan = sub.scheduled_plan or sub.plan
    interval = sub.scheduled_interval or sub.interval
    quantity = sub.scheduled_quantity or sub.quantity
    return NextCharge(
        at=sub.current_period_end,
        amount_cents=PlanPrice(plan, interval).unit_amount * quantity,
        quantity=quantity,
        plan_label=Plan(plan).label,
        interval_label=Interval(interval).label,
    )


@dataclass(frozen=True)
class IntervalPreview:
    """What a billing-frequency change costs, before it is confirmed."""

    interval: str
    interval_label: str
    current: NextCharge
    after: NextCharge
    following_at: datetime | None  # the charge after that, at the new frequency

    @property
    def is_withdrawal(self) -> bool:
        return self.after.interval_label == self.current.interval_label


def interval_change_preview(sub: Subscription, interval: str) -> IntervalPreview | None:
    """The renewal charge now and with `interval` (it takes effect at the renewal, no
    proration: the renewal invoice simply bills the new frequency's price)."""
    current = next_charge(sub)
    if current is None or interval not in Interval.values:
        return None
    plan = sub.scheduled_plan or sub.plan
    quantity = sub.scheduled_quantity or sub.quantity
    after = NextCharge(
        at=current.at,
        amount_cents=PlanPrice(plan, interval).unit_amount * quantity,
        quantity=quantity,
        plan_label=Plan(plan).label,
        interval_label=Interval(interval).label,
    )
    following = None
    if current.at is not None:
        following = current.at + (
            timedelta(days=365) if interval == Interval.YEAR else timedelta(days=30)
        )
    return IntervalPreview(interval, Interval(interval).label, current, after, following)


def seat_history(organization: Organization) -> list[SubscriptionChange]:
    return list(
        SubscriptionChange.objects.filter(organization=organization, kind__in=SEAT_KINDS)
        .select_related("actor")
        .order_by("-created_at", "-id")[:SEAT_HISTORY_LIMIT]
    )


HISTORY_KIND = "subscription"  # how the Billing history's kind filter names these rows


def history_changes(
    organization: Organization,
    *,
    kind: str = "",
    date_from: date | None = None,
    date_to: date | None = None,
) -> QuerySet[SubscriptionChange]:
    """Subscription changes for the Billing tab's purchase history and its CSV, newest first.

    Takes the history's filters: a ledger kind other than "subscription" selects none; dates are
    days in the organization's time zone, inclusive.
    """
    changes = SubscriptionChange.objects.filter(organization=organization)
    if kind and kind != HISTORY_KIND:
        return changes.none()
    tz = zoneinfo.ZoneInfo(organization.time_zone or "UTC")
    if date_from:
        changes = changes.filter(created_at__gte=datetime.combine(date_from, time.min, tz))
    if date_to:
        next_day = datetime.combine(date_to + timedelta(days=1), time.min, tz)
        changes = changes.filter(created_at__lt=next_day)
    return changes.select_related("actor").order_by("-created_at", "-id")


def billing_history(organization: Organization, limit: int = 50, **filters: object) -> list:
    """The newest subscription changes for the Billing tab's purchase history."""
    return list(history_changes(organization, **filters)[:limit])


@dataclass(frozen=True)
class TabData:
    subscription: Subscription | None
    usage: SeatUsage
    plans: list[PlanCard]
    next_charge: NextCharge | None
    unit_amount: int
    period_total: int
    history: list[SubscriptionChange]


def tab_data(organization: Organization) -> TabData:
    sub = subscription_for(organization)
    unit = PlanPrice(sub.plan, sub.interval).unit_amount if sub else 0
    return TabData(
        subscription=sub,
        usage=seat_usage(organization),
        plans=plan_cards(sub),
        next_charge=next_charge(sub) if sub else None,
        unit_amount=unit,
        period_total=unit * sub.quantity if sub else 0,
        history=seat_history(organization),
    )


def current_period_dates(organization: Organization) -> tuple[date, date] | None:
    """The live subscription's current period as local dates [start, end), or None.

    The Usage tab's "this billing period" follows it; without a subscription the tab falls back
    to the calendar month in the organization's time zone.
    """
    period = (
        Subscription.objects.filter(organization=organization, status__in=LIVE_STATUSES)
        .exclude(current_period_start=None)
        .exclude(current_period_end=None)
        .values_list("current_period_start", "current_period_end")
        .first()
    )
    if period is None:
        return None
    tz = zoneinfo.ZoneInfo(organization.time_zone)
    start, end = (moment.astimezone(tz).date() for moment in period)
    return (start, end) if start < end else None
