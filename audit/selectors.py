"""Reads for the Audit logs tab and its exports. Every query is scoped to one organization.

The list is keyset-paginated on (created_at, id), newest first, never OFFSET: page 1,000 costs
what page 1 costs. Totals come from the per-day counts: AuditCount (organization x day x action)
or, for one member, AuditMemberCount (organization x member x day x action), so any mix of
action, category, member and range reads at most days x actions count rows. Free text, which no
count carries, is counted from the events, over the newest SCAN_LIMIT of them only.
"""

import contextlib
import functools
import ipaddress
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

from django.apps import apps as django_apps
from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncDate

from kilo_dashboard import money

from .actions import CATALOGUE, CATEGORY_LABELS, Category, actions_in, label_of
from .filters import AuditFilters, Cursor
from .models import ActorType, AuditCount, AuditEvent, AuditMemberCount, AuditTrail, ChainCheck

PAGE_SIZE = 50
SCAN_LIMIT = 10_000  # events a text search's totals look at, newest first
EXPORT_BATCH = 2000
WEEKLY_AFTER_DAYS = 62  # longer ranges are totalled per week


@dataclass(frozen=True)
class DiffRow:
    field: str
    before: str
    after: str


@dataclass(frozen=True)
class EventRow:
    event: AuditEvent
    actor: str
    actor_detail: str
    action_label: str
    category_label: str
    target: str
    diff: list[DiffRow]


@dataclass(frozen=True)
class EventPage:
    rows: list[EventRow]
    next_cursor: Cursor | None


@dataclass(frozen=True)
class Period:
    start: date
    label: str
    count: int


@dataclass(frozen=True)
class Totals:
    unit: str  # "day" or "week"
    periods: list[Period]
    categories: list[tuple[str, str, int]]  # (category value, label, count)
    total: int
    # Set when the totals were counted over the newest `scan_limit` events of the view only
    # (a text search on a large view): the first local day that window reaches.
    scanned_since: date | None = None
    scan_limit: int = 0


def _moment(value: str, tz: tzinfo | None) -> str | None:
    """An ISO date-time as stored by audit_record -> "5 Dec 2026, 10:00" in the organization's
    zone (as the tab's other times), or "…, 09:00 UTC" without one; None for anything else."""
    if len(value) < 19 or value[10] != "T":
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return f"{moment.day} {moment:%b %Y, %H:%M}"
    moment = moment.astimezone(tz or UTC)
    return f"{moment.day} {moment:%b %Y, %H:%M}" + ("" if tz else " UTC")


def _text(value: Any, key: str = "", tz: tzinfo | None = None) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int) and key.endswith("_cents"):
        return money.format_cents(value)
    if isinstance(value, int) and key.endswith("_microdollars"):
        return money.format_microdollars(value)
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    if isinstance(value, str):
        return _moment(value, tz) or value
    return str(value)


def _field(key: str) -> str:
    """amount_cents -> "amount": the unit shows in the value ("$2,250.00")."""
    for unit in ("_cents", "_microdollars"):
        key = key.removesuffix(unit)
    return key.replace("_", " ")


def diff_rows(before: dict | None, after: dict | None, tz: tzinfo | None = None) -> list[DiffRow]:
    """The changed fields (all fields when only one side exists), in a stable order; times in
    `tz` (the organization's zone) when given."""
    before = before if isinstance(before, dict) else ({} if before is None else {"value": before})
    after = after if isinstance(after, dict) else ({} if after is None else {"value": after})
    keys = list(dict.fromkeys([*before, *after]))
    rows = []
    for key in keys:
        old, new = before.get(key), after.get(key)
        if key in before and key in after and old == new:
            continue
        rows.append(
            DiffRow(
                _field(key),
                _text(old, key, tz) if key in before else "",
                _text(new, key, tz) if key in after else "",
            )
        )
    return rows


def actor_text(event: AuditEvent) -> tuple[str, str]:
    """(who, detail) for display."""
    if event.actor_type == ActorType.USER:
        if event.actor_id and event.actor is not None:
            name = event.actor.name
            return (name or event.actor_email, event.actor_email if name else "")
        return (event.actor_email or event.actor_label or "unknown user", "")
    kind = ActorType(event.actor_type).label if event.actor_type in ActorType.values else "?"
    return (kind, event.actor_label)


@functools.cache
def _model_names() -> dict[str, str]:
    """Model name (as audit_record stores a target's type) -> its verbose name, for display."""
    return {m._meta.model_name: str(m._meta.verbose_name) for m in django_apps.get_models()}


def target_type_text(target_type: str) -> str:
    """paymentmethod -> "Payment method"; a type no model has any more shows as stored."""
    text = _model_names().get(target_type, target_type.replace("_", " "))
    return text[:1].upper() + text[1:]


def event_row(event: AuditEvent, tz: tzinfo | None = None) -> EventRow:
    action = CATALOGUE.get(event.action)
    who, detail = actor_text(event)
    target = event.target_label
    if event.target_type and event.target_type != "organization":
        kind = target_type_text(event.target_type)
        target = f"{kind}: {target}" if target else kind
    return EventRow(
        event=event,
        actor=who,
        actor_detail=detail,
        action_label=label_of(event.action),
        category_label=action.category.label if action else "",
        target=target,
        diff=diff_rows(event.before, event.after, tz),
    )


def filtered_events(
    organization: Any, filters: AuditFilters, *, member_user_id: int | None
) -> QuerySet[AuditEvent]:
    events = AuditEvent.objects.filter(
        organization=organization, created_at__gte=filters.since, created_at__lt=filters.until
    )
    if filters.action:
        events = events.filter(action=filters.action)
    elif filters.category:
        events = events.filter(action__in=actions_in(filters.category))
    if filters.member:
        events = events.filter(actor_id=member_user_id)
    if filters.query:
        events = events.filter(_text_match(filters.query))
    return events


def _text_match(query: str) -> Q:
    match = (
        Q(actor_email__icontains=query)
        | Q(actor_label__icontains=query)
        | Q(target_label__icontains=query)
    )
    labelled = [a.value for a in CATALOGUE.values() if query.lower() in a.label.lower()]
    if labelled:
        match |= Q(action__in=labelled)
    with contextlib.suppress(ValueError):
        match |= Q(ip_address=str(ipaddress.ip_address(query)))
    return match


def _before(events: QuerySet[AuditEvent], cursor: Cursor) -> QuerySet[AuditEvent]:
    # created_at <= t narrows the index range; the OR breaks ties on id.
    return events.filter(created_at__lte=cursor.created_at).filter(
        Q(created_at__lt=cursor.created_at) | Q(id__lt=cursor.id)
    )


def event_page(
    organization: Any, filters: AuditFilters, *, member_user_id: int | None, size: int = PAGE_SIZE
) -> EventPage:
    events = filtered_events(organization, filters, member_user_id=member_user_id)
    if filters.cursor:
        events = _before(events, filters.cursor)
    batch = list(events.select_related("actor").order_by("-created_at", "-id")[: size + 1])
    rows = [event_row(event, filters.tz) for event in batch[:size]]
    next_cursor = None
    if len(batch) > size:
        last = batch[size - 1]
        next_cursor = Cursor(last.created_at, last.id)
    return EventPage(rows, next_cursor)


EXPORT_FIELDS = (
    "id",
    "public_id",
    "created_at",
    "actor_type",
    "actor_email",
    "actor_label",
    "actor__name",
    "action",
    "target_type",
    "target_id",
    "target_label",
    "before",
    "after",
    "ip_address",
    "user_agent",
    "sequence",
    "hash",
)


def export_rows(
    organization: Any, filters: AuditFilters, *, member_user_id: int | None
) -> Iterator[dict]:
    """Every event of the filtered view as plain dicts, newest first, fetched in keyset
    batches: memory stays flat however many there are, and no cursor or transaction stays open
    between batches. (Dicts, not model instances: building instances costs more than the query.)"""
    events = filtered_events(organization, filters, member_user_id=member_user_id)
    cursor = None
    while True:
        page = events if cursor is None else _before(events, cursor)
        batch = list(page.order_by("-created_at", "-id").values(*EXPORT_FIELDS)[:EXPORT_BATCH])
        yield from batch
        if len(batch) < EXPORT_BATCH:
            return
        cursor = Cursor(batch[-1]["created_at"], batch[-1]["id"])


def totals(organization: Any, filters: AuditFilters, *, member_user_id: int | None) -> Totals:
    """Events per day or week and per category of the filtered view, from count rows: at most
    (days x actions) of them whichever of action, category, member and range is chosen. Free
    text (which no count carries) and days counted in a zone the organization has since left are
    counted from the events, over the newest SCAN_LIMIT events of the view only."""
    counted_zone = (
        AuditTrail.objects.filter(pk=organization.pk)
        .values_list("count_time_zone", flat=True)
        .first()
    )
    scanned_since = None
    if filters.query or counted_zone != filters.time_zone:
        rows, scanned_since = _scanned_counts(organization, filters, member_user_id=member_user_id)
    else:
        if filters.member:
            counts = AuditMemberCount.objects.filter(
                organization=organization, actor_id=member_user_id
            )
        else:
            counts = AuditCount.objects.filter(organization=organization)
        counts = counts.filter(day__gte=filters.start, day__lte=filters.end)
        if filters.action:
            counts = counts.filter(action=filters.action)
        elif filters.category:
            counts = counts.filter(action__in=actions_in(filters.category))
        rows = counts.values_list("day", "action", "count")
    per_day: dict[date, int] = {}
    per_category: dict[str, int] = {}
    for day, action, n in rows:
        per_day[day] = per_day.get(day, 0) + n
        category = CATALOGUE[action].category if action in CATALOGUE else None
        if category:
            per_category[category] = per_category.get(category, 0) + n
    weekly = filters.days > WEEKLY_AFTER_DAYS
    periods = _periods(filters.start, filters.end, per_day, weekly=weekly)
    categories = [
        (c.value, CATEGORY_LABELS[c], per_category[c]) for c in Category if per_category.get(c)
    ]
    categories.sort(key=lambda item: -item[2])
    return Totals(
        "week" if weekly else "day",
        periods,
        categories,
        sum(per_day.values()),
        scanned_since=scanned_since,
        scan_limit=SCAN_LIMIT,
    )


def _scanned_counts(
    organization: Any, filters: AuditFilters, *, member_user_id: int | None
) -> tuple[list[tuple[date, str, int]], date | None]:
    """(day, action, matching events) over the newest SCAN_LIMIT events of the view without its
    text, and the first local day that window reaches back to when it holds fewer than the
    whole view (None: every event of the view was looked at). One query; the window is an index
    range scan, so the cost is bounded whatever the range or the text."""
    plain = AuditFilters(**{**filters.__dict__, "query": "", "cursor": None})
    window = (
        filtered_events(organization, plain, member_user_id=member_user_id)
        .order_by("-created_at", "-id")
        .values("pk")[:SCAN_LIMIT]
    )
    matching = Q(pk__isnull=False)  # every event, when there is no text
    if filters.query:
        matching = _text_match(filters.query)
    grouped = (
        AuditEvent.objects.filter(organization=organization, pk__in=window)
        .annotate(day=TruncDate("created_at", tzinfo=filters.tz))
        .order_by()
        .values("day", "action")
        .annotate(seen=Count("id"), n=Count("id", filter=matching))
        .values_list("day", "action", "seen", "n")
    )
    rows, seen, first_day = [], 0, None
    for day, action, in_window, n in grouped:
        seen += in_window
        first_day = day if first_day is None else min(first_day, day)
        if n:
            rows.append((day, action, n))
    return rows, (first_day if seen >= SCAN_LIMIT else None)


def _periods(start: date, end: date, per_day: dict[date, int], *, weekly: bool) -> list[Period]:
    periods = []
    if not weekly:
        day = start
        while day <= end:
            periods.append(Period(day, day.isoformat(), per_day.get(day, 0)))
            day += timedelta(days=1)
        return periods
    week = start - timedelta(days=start.weekday())  # ISO weeks, Monday first
    while week <= end:
        days = [week + timedelta(days=i) for i in range(7)]
        count = sum(per_day.get(d, 0) for d in days if start <= d <= end)
        periods.append(Period(week, f"Week of {week.isoformat()}", count))
        week += timedelta(days=7)
    return periods


@dataclass(frozen=True)
class ChainStatus:
    retained_events: int
    retention_years: int
    last_check: ChainCheck | None


def chain_status(organization: Any) -> ChainStatus:
    trail = AuditTrail.objects.filter(pk=organization.pk).first()
    check = ChainCheck.objects.filter(organization=organization).order_by("-checked_at").first()
    if trail is None:
        return ChainStatus(0, 1, check)
    return ChainStatus(trail.retained_events, trail.retention_years, check)


def recorded_events(organization: Any) -> int:
    """How many events the organization has recorded and still keeps (no count over the rows)."""
    trail = AuditTrail.objects.filter(pk=organization.pk).first()
    return trail.retained_events if trail else 0
