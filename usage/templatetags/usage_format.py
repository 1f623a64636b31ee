"""Small display helpers for the Usage tab (money stays in kilo_dashboard's `microdollars`)."""

from django import template

register = template.Library()


@register.filter
def change_pct(value: float | None) -> str:
    """0.1234 -> "+12.3%"; None -> "" (nothing to compare with)."""
    if value is None:
        return ""
    return f"{value * 100:+.1f}%"


@register.filter
def change_class(value: float | None) -> str:
    if value is None or abs(value) < 0.0005:
        return "change--flat"
    return "change--up" if value > 0 else "change--down"


@register.filter
def percent(value: float | None, places: int = 1) -> str:
    if value is None:
        return "—"
    return f"{value * 100:.{int(places)}f}%"


@register.filter
def index(sequence, position: int):  # noqa: ANN001, ANN201
    return sequence[int(position)]
