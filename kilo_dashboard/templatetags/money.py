"""The one place where integer money becomes dollars for display.

Usage costs are integer microdollars (1 USD = 1,000,000); Stripe amounts are integer cents.
"""

from decimal import ROUND_HALF_UP, Decimal

from django import template

register = template.Library()

MICRO = Decimal(1_000_000)
CENT = Decimal(100)


def format_usd(amount: Decimal, places: int = 2) -> str:
    quantum = Decimal(1).scaleb(-places)
    rounded = amount.quantize(quantum, rounding=ROUND_HALF_UP)
    sign = "-" if rounded < 0 else ""
    return f"{sign}${abs(rounded):,.{places}f}"


@register.filter
def microdollars(value: int | None, places: int = 2) -> str:
    """1234567 -> "$1.23"; `|microdollars:4` keeps four decimals for per-request costs."""
    if value is None or value == "":
        return "—"
    return format_usd(Decimal(int(value)) / MICRO, int(places))


@register.filter
def cents(value: int | None) -> str:
    """12345 -> "$123.45"."""
    if value is None or value == "":
        return "—"
    return format_usd(Decimal(int(value)) / CENT, 2)


@register.filter
def usd_per_million(value: Decimal | None) -> str:
    """A catalog price (exact USD per 1M tokens): "$3.00", "$0.075", "$0.0001"."""
    if value is None or value == "":
        return "—"
    amount = Decimal(value)
    exponent = -amount.normalize().as_tuple().exponent if amount else 0
    return format_usd(amount, min(max(2, exponent), 8))
