"""Template filters for money; the conversions and formats live in kilo_dashboard.money."""

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
