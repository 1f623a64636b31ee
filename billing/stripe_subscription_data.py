"""Plain data for subscriptions (subscriptions app): Stripe's shapes parsed into frozen
dataclasses, and Stripe's proration rule for where the dialect cannot preview one.

No `stripe` import here: billing/stripe_gateway.py stays the only module that talks to Stripe and
re-exports these names.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from kilo_dashboard.money import divide_half_up

from .stripe_data import _id


@dataclass(frozen=True)
class PlanData:
    id: str
    amount: int
    interval: str
    currency: str
    metadata: dict = field(default_factory=dict)


@dataclass(frozen=True)
class SubscriptionData:
    id: str
    customer: str
    status: str
    item_id: str
    plan_id: str
    unit_amount: int
    interval: str
    quantity: int
    current_period_start: int | None
    current_period_end: int | None
    cancel_at_period_end: bool
    canceled_at: int | None
    ended_at: int | None
    latest_invoice: str
    metadata: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ProrationLine:
    description: str
    amount: int  # cents, signed


@dataclass(frozen=True)
class ProrationPreview:
    proration_date: int
    lines: tuple[ProrationLine, ...]
    computed_locally: bool  # True where the dialect cannot preview (localstripe)

    @property
    def amount(self) -> int:
        return sum(line.amount for line in self.lines)


@dataclass(frozen=True)
class ChangeResult:
    subscription: SubscriptionData
    amount: int  # what was invoiced/charged at once, in cents
    reference: str  # the invoice (Stripe) or PaymentIntent (localstripe) that charged it
    status: str  # "paid", "nothing_due", "requires_action" or "failed"
    client_secret: str = ""
    failure_message: str = ""
    payment_intent: str = ""  # the PaymentIntent to authenticate when status is requires_action


def _ts_or_none(value: Any) -> int | None:
    return int(value) if value else None


def parse_plan(d: dict) -> PlanData:
    recurring = d.get("recurring") or {}
    return PlanData(
        id=d["id"],
        amount=int(d.get("amount") if d.get("amount") is not None else d.get("unit_amount") or 0),
        interval=str(d.get("interval") or recurring.get("interval") or ""),
        currency=d.get("currency") or "usd",
        metadata=dict(d.get("metadata") or {}),
    )


def parse_subscription(d: dict) -> SubscriptionData:
    """Both shapes: the period on the subscription (localstripe, API <= 2025-03) or on its item
    (current API); the item's price as `price` (current) or `plan` (localstripe)."""
    items = (d.get("items") or {}).get("data") or []
    item = items[0] if items else {}
    price = item.get("price") or item.get("plan") or d.get("plan") or {}
    plan = parse_plan(price) if price.get("id") else PlanData("", 0, "", "usd")
    return SubscriptionData(
        id=d["id"],
        customer=_id(d.get("customer")),
        status=d.get("status") or "",
        item_id=str(item.get("id") or ""),
        plan_id=plan.id,
        unit_amount=plan.amount,
        interval=plan.interval,
        quantity=int(item.get("quantity") or d.get("quantity") or 0),
        current_period_start=_ts_or_none(
            d.get("current_period_start") or item.get("current_period_start")
        ),
        current_period_end=_ts_or_none(
            d.get("current_period_end") or item.get("current_period_end")
        ),
        cancel_at_period_end=bool(d.get("cancel_at_period_end")),
        canceled_at=_ts_or_none(d.get("canceled_at")),
        ended_at=_ts_or_none(d.get("ended_at")),
        latest_invoice=_id(d.get("latest_invoice")),
        metadata=dict(d.get("metadata") or {}),
    )


def invoice_subscription_id(d: dict) -> str:
    """The subscription an invoice belongs to: `subscription` (older API, localstripe) or
    `parent.subscription_details.subscription` (current API)."""
    parent = (d.get("parent") or {}).get("subscription_details") or {}
    return _id(d.get("subscription")) or _id(parent.get("subscription"))


def _is_proration_line(line: dict) -> bool:
    parent = line.get("parent") or {}
    details = parent.get("subscription_item_details") or parent.get("invoice_item_details") or {}
    return bool(line.get("proration") or details.get("proration"))


def parse_proration_preview(d: dict, proration_date: int) -> ProrationPreview:
    lines = tuple(
        ProrationLine(description=line.get("description") or "", amount=int(line["amount"]))
        for line in (d.get("lines") or {}).get("data", [])
        if _is_proration_line(line)
    )
    return ProrationPreview(proration_date=proration_date, lines=lines, computed_locally=False)


def _round_half_up(numerator: int, denominator: int) -> int:
    return divide_half_up(numerator, denominator)


def prorate(
    *,
    period_start: int,
    period_end: int,
    proration_date: int,
    old_total: int,
    new_total: int,
    old_label: str,
    new_label: str,
) -> tuple[ProrationLine, ...]:
    """Stripe's proration, to the second: a credit for the unused time of the old items and a
    charge for the remaining time of the new ones, each rounded to the nearest cent."""
    length = max(period_end - period_start, 1)
    remaining = min(max(period_end - proration_date, 0), length)
    day = datetime_label(proration_date)
    return (
        ProrationLine(
            f"Unused time on {old_label} after {day}",
            -_round_half_up(old_total * remaining, length),
        ),
        ProrationLine(
            f"Remaining time on {new_label} after {day}",
            _round_half_up(new_total * remaining, length),
        ),
    )


def datetime_label(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, tz=UTC).strftime("%-d %b %Y")
