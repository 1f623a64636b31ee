"""Replays a demo organization's months, day by day, as production would have lived them.

Each night (03:00 in the organization's time zone) the previous day's usage events arrive
through the ingestion service, are rolled up and debited (what beat does every minute); on the
1st the previous month's statement is requested (what the hourly statement check does); the
day's scripted steps (people invited, a card added, a policy changed...) run at their hour
through the real services, so they are audited in time order; and when the credit left would
last less than `runway_days` at the recent pace, the owner buys the next pack of credits, as a
real customer does before running out. Every past statement therefore opens and closes on a
positive balance and reconciles with the ledger, entry by entry.

Called by seed_demo once per organization (only when it has no usage yet: idempotent).
"""

import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.db.models import Sum
from django.utils import timezone

from audit.services import Actor
from kilo_dashboard.demo_clock import days_between, local_moment, story_at
from kilo_dashboard.money import allocate, format_cents
from organizations.models import Organization
from usage.demo import ingest
from usage.selectors import ingest_keys
from usage.services import ingest_key_mark_used

from . import documents, services, sync, usage_debits
from .ledger import balance_of
from .models import CreditLedgerEntry, Document, LedgerKind

NIGHTLY_HOUR = 3  # the demo's events start at 06:00, so each night closes a whole day
TOP_UP_HOUR = 10.5


@dataclass(frozen=True)
class Step:
    day: date
    hour: float  # local time, after NIGHTLY_HOUR
    run: Callable[[], object]


@dataclass
class Story:
    organization: Organization
    first_day: date  # local day of the first step
    events: list[dict]
    buyer: Actor  # an owner: buys the packs
    packs_cents: tuple[int, ...]  # bought in this order (the last one repeats)
    steps: list[Step] = field(default_factory=list)
    runway_days: int = 14  # a team buys more when about two weeks of credit are left
    done: list[str] = field(default_factory=list)

    def buy(self) -> None:
        """Charge the next pack to the default card and grant it (as payment_intent.succeeded
        does: seed_demo is one transaction, so queued webhook handling would come at its end)."""
        bought = CreditLedgerEntry.objects.filter(
            organization=self.organization, kind=LedgerKind.PURCHASE
        ).count()
        cents = self.packs_cents[min(bought, len(self.packs_cents) - 1)]
        outcome = services.credits_purchase(
            actor=self.buyer, organization=self.organization, amount_cents=cents
        )
        sync.payment_intent_sync(outcome.payment.stripe_payment_intent_id)
        _issue(Document.objects.filter(payment=outcome.payment).first())
        day = timezone.localtime(timezone.now(), _tz(self.organization)).date()
        self.done.append(f"bought {format_cents(cents)} of credits on {day:%d %b %Y}")


def _tz(organization: Organization) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(organization.time_zone or "UTC")


def _issue(document: Document | None) -> None:
    """Render now, in the story, as the worker would have within seconds: the document is
    dated the day it was issued (the queued rendering then finds it done)."""
    if document is not None:
        documents.document_render(document.pk)


def _occurred(event: dict) -> datetime:
    return datetime.fromisoformat(event["occurred_at"])


def _recent_daily_cost(organization: Organization, day: date) -> int:
    """Usage debit per day over the week before `day` (microdollars, positive): the largest of
    the week's seven exact shares, so the pace rounds up and a week's spending is never
    under-estimated."""
    total = CreditLedgerEntry.objects.filter(
        organization=organization,
        usage_day__gte=day - timedelta(days=7),
        usage_day__lt=day,
    ).aggregate(s=Sum("amount_microdollars"))["s"]
    return allocate(-(total or 0), 7)[0]


def _top_up_if_short(story: Story, day: date) -> None:
    if not story.packs_cents:
        return  # no Stripe to buy from (localstripe is not running)
    pace = _recent_daily_cost(story.organization, day)
    if pace and balance_of(story.organization) < pace * story.runway_days:
        story.buy()


def _nightly(story: Story, day: date, events: list[dict]) -> None:
    organization = story.organization
    if events:
        ingest(organization, events)
        for key in ingest_keys(organization):  # the day's events came through the gateway key
            if key.revoked_at is None:
                ingest_key_mark_used(key)
    usage_debits.usage_debits_post(organization_ids=[organization.pk])
    if day.day == 1:
        period = documents.previous_month(day)
        created = timezone.localtime(organization.created_at, _tz(organization)).date()
        statement = created < day and documents.statement_request(organization, period)
        if statement:
            _issue(statement)
            story.done.append(f"statement for {period:%B %Y}")


class _Clock:
    """Runs each step at its moment, but never before the end of the previous one: two steps
    set for the same minute must still be audited (and chained) in the order they happened."""

    def __init__(self, start: datetime) -> None:
        self.last = start

    def run(self, moment: datetime, step: Callable[[], object]) -> None:
        moment = max(moment, self.last + timedelta(seconds=1))
        with story_at(moment):
            step()
            self.last = timezone.now()


def play(story: Story) -> list[str]:
    """Live the story from `first_day` to now. Returns what happened, one line each."""
    organization = story.organization
    tz_name = organization.time_zone or "UTC"
    events = sorted(story.events, key=_occurred)
    steps: dict[date, list[tuple[float, Callable[[], object]]]] = {}
    for step in story.steps:
        steps.setdefault(step.day, []).append((step.hour, step.run))
    now = timezone.now()
    today = timezone.localtime(now, _tz(organization)).date()
    arrived = 0
    clock = _Clock(organization.created_at)
    for day in days_between(story.first_day, today):
        night = local_moment(day, NIGHTLY_HOUR, tz_name)
        if night >= now:
            break
        until = arrived
        while until < len(events) and _occurred(events[until]) < night:
            until += 1
        batch = events[arrived:until]
        clock.run(night, lambda day=day, batch=batch: _nightly(story, day, batch))
        arrived = until
        todo = [*steps.get(day, []), (TOP_UP_HOUR, lambda day=day: _top_up_if_short(story, day))]
        for hour, run in sorted(todo, key=lambda item: item[0]):
            moment = local_moment(day, hour, tz_name)
            if moment >= now:
                continue  # the story never gets ahead of the present
            clock.run(moment, run)
    # Today so far, at the real time: what beat would have posted by now.
    ingest(organization, events[arrived:])
    usage_debits.usage_debits_post(organization_ids=[organization.pk])
    return story.done
