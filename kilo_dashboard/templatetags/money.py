"""Template filters for money; the conversions and formats live in kilo_dashboard.money."""

from decimal import Decimal

from django import template

from kilo_dashboard import money

register = template.Library()


@register.filter
def microdollars(value: int | None, places: int = 2) -> str:
    """1234567 -> "$1.23"; `|microdollars:4` keeps four decimals for per-request costs."""
    return money.format_microdollars(value, int(places))


@register.filter
def cents(value: int | None) -> str:
    """12345 -> "$123.45"."""
    return money.format_cents(value)


@register.filter
def usd_per_million(value: Decimal | None) -> str:
    """A catalog price (exact USD per 1M tokens): "$3.00", "$0.075", "$0.0001"."""
    if value is None or value == "":
        return "—"
    amount = Decimal(value)
    exponent = -amount.normalize().as_tuple().exponent if amount else 0
    return money.format_dollars(amount, min(max(2, exponent), 8))
