"""The one place where money changes unit or becomes text, and where typed amounts become money.

Stored amounts are integers: Stripe amounts in cents, usage costs and credits in microdollars
(1 USD = 1,000,000). Everything else in the codebase passes those integers around and calls
this module to show them, to put them in a form field or a CSV cell, or to read an amount a
person typed. No float and no integer division on money anywhere else (a test greps for it).

The currency is US dollars and cannot vary: usage prices come from the model catalog in USD
per million tokens, credits are microdollars, and every stored amount is in that unit. A second
currency would need conversion of every stored amount, not a setting; so the currency is this
module's constant and `settings.BILLING_CURRENCY` (what the Stripe gateway sends) is set from it.
"""

import re
from decimal import ROUND_HALF_UP, Decimal

CURRENCY = "usd"
CURRENCY_SYMBOL = "$"

CENTS_PER_DOLLAR = 100
MICRODOLLARS_PER_DOLLAR = 1_000_000
MICRODOLLARS_PER_CENT = 10_000  # 1,000,000 / 100

_CENT = Decimal(CENTS_PER_DOLLAR)
_MICRO = Decimal(MICRODOLLARS_PER_DOLLAR)
# Anything typed beyond this is a slip of the finger, not a payment (ten million dollars).
MAX_TYPED_DOLLARS = Decimal(10_000_000)


AMBIGUOUS_SEPARATOR = (
    "Use a point for cents, e.g. 10.50 (a comma only between groups of three digits, "
    "e.g. 1,050.00)."
)
# ASCII digits, commas and points only: str.isdigit() also accepts "²" and other scripts' digits.
_TYPED_CHARACTERS = re.compile(r"[0-9.,]+")
# Thousands groups: 1 to 3 digits not starting with 0, then groups of exactly three.
_THOUSANDS = re.compile(r"[1-9][0-9]{0,2}(?:,[0-9]{3})+")


class MoneyInputError(ValueError):
    """A typed amount that is not a plain, non-negative dollar amount with at most 2 decimals."""


# --- unit conversions (exact, integers in and out) -----------------------------------------------


def cents_to_microdollars(cents: int) -> int:
    return int(cents) * MICRODOLLARS_PER_CENT


def cents_to_dollars(cents: int) -> Decimal:
    """Exact: 1050 -> Decimal("10.50")."""
    return Decimal(int(cents)) / _CENT


def microdollars_to_dollars(microdollars: int) -> Decimal:
    """Exact: 1234567 -> Decimal("1.234567")."""
    return Decimal(int(microdollars)) / _MICRO


def microdollars_to_cents_down(microdollars: int) -> int:
    """The whole cents an amount holds, rounded down: 5_009_999 -> 500, -1 -> -1. What can be
    paid back out of a credit balance (never a fraction of a cent more than it holds)."""
    return int(microdollars) // MICRODOLLARS_PER_CENT


def dollars_to_cents(dollars: Decimal) -> int:
    """Decimal("10.50") -> 1050. Refuses fractions of a cent rather than rounding them away."""
    cents = dollars * _CENT
    if cents != cents.to_integral_value():
        raise MoneyInputError("Use at most 2 decimals (whole cents).")
    return int(cents)


def dollars_to_microdollars(dollars: Decimal) -> int:
    micro = dollars * _MICRO
    if micro != micro.to_integral_value():
        raise MoneyInputError("Use at most 6 decimals.")
    return int(micro)


def divide_half_up(numerator: int, denominator: int) -> int:
    """Integer money divided by a count, rounded half away from zero, without floats:
    an average cost per request, a prorated amount. divide_half_up(-7, 2) == -4."""
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    sign = -1 if numerator < 0 else 1
    return sign * ((2 * abs(numerator) + denominator) // (2 * denominator))


def allocate(amount: int, parts: int) -> list[int]:
    """Integer money split into `parts` shares that sum to exactly `amount`, as even as can be,
    larger shares first (a remainder is never lost or invented, unlike `amount // parts`):
    allocate(100, 3) == [34, 33, 33]; allocate(-100, 3) == [-34, -33, -33]."""
    if parts <= 0:
        raise ValueError("parts must be positive")
    sign = -1 if amount < 0 else 1
    share, remainder = divmod(abs(int(amount)), parts)
    return [sign * (share + 1)] * remainder + [sign * share] * (parts - remainder)


# --- text -----------------------------------------------------------------------------------------


def format_dollars(amount: Decimal, places: int = 2) -> str:
    """Decimal("-1234.5") -> "-$1,234.50" (rounded half up to `places`)."""
    quantum = Decimal(1).scaleb(-places)
    rounded = amount.quantize(quantum, rounding=ROUND_HALF_UP)
    sign = "-" if rounded < 0 else ""
    return f"{sign}{CURRENCY_SYMBOL}{abs(rounded):,.{places}f}"


def format_cents(cents: int | None) -> str:
    """12345 -> "$123.45"; None -> "—"."""
    if cents is None or cents == "":
        return "—"
    return format_dollars(cents_to_dollars(cents))


def format_microdollars(microdollars: int | None, places: int = 2) -> str:
    """1234567 -> "$1.23"; places=4 keeps four decimals for per-request costs."""
    if microdollars is None or microdollars == "":
        return "—"
    return format_dollars(microdollars_to_dollars(microdollars), int(places))


def format_whole_cents(cents: int) -> str:
    """Preset labels: 10000 -> "$100", but 1050 -> "$10.50" (never drops the cents)."""
    dollars = cents_to_dollars(cents)
    if dollars == dollars.to_integral_value():
        return f"{CURRENCY_SYMBOL}{int(dollars):,}"
    return format_dollars(dollars)


def cents_text(cents: int) -> str:
    """Plain decimal text for CSV cells: 1050 -> "10.50", -5 -> "-0.05"."""
    return f"{cents_to_dollars(cents):.2f}"


def microdollars_text(microdollars: int, places: int = 2) -> str:
    """Plain decimal text rounded half up: 1596999237 -> "1597.00" (CSV money columns)."""
    quantum = Decimal(1).scaleb(-places)
    rounded = microdollars_to_dollars(microdollars).quantize(quantum, rounding=ROUND_HALF_UP)
    return f"{rounded:.{places}f}"


def microdollars_exact_text(microdollars: int) -> str:
    """Exact decimal text, six places: 1234567 -> "1.234567" (usage CSV, costs per request)."""
    return f"{microdollars_to_dollars(microdollars):.6f}"


def cents_field(cents: int) -> str:
    """The text a form field shows for an amount in cents: 1050 -> "10.50", 1000 -> "10.00"."""
    return cents_text(cents)


def microdollars_field(microdollars: int) -> str:
    """Form-field text for a threshold in microdollars, to the cent: 20_000_000 -> "20.00".

    Thresholds are entered in whole cents, so the cents digits are exact; anything below a
    cent (only possible for rows written outside the form) is shown rounded."""
    return microdollars_text(microdollars, 2)


def chart_dollars(microdollars: int) -> Decimal:
    """Dollars for a chart axis; plotly's JSON encoder turns the Decimal into a number."""
    return microdollars_to_dollars(microdollars)


# --- typed input ------------------------------------------------------------------------------------


def parse_dollars(text: str | Decimal) -> Decimal:
    """What a person typed ("1,050.5", "$10.50", " 10 ") -> Decimal("1050.5").

    One decimal separator, the point. A comma is accepted only as a thousands separator in
    well-formed groups of three ("1,050.00", "12,345"); anything else with a comma or a second
    point ("10,50", "1,2,3", "1,05.00", "10.5.0") is ambiguous (is "10,50" ten dollars fifty or
    a thousand and fifty?) and refused rather than guessed. Also refused, with a message fit to
    show: empty or non-numeric text, NaN/infinity, exponents, negatives, more than 2 decimals
    and sizes beyond MAX_TYPED_DOLLARS."""
    if isinstance(text, Decimal):
        raw = format(text, "f")
    else:
        raw = str(text).strip()
        if raw.startswith(CURRENCY_SYMBOL):
            raw = raw[len(CURRENCY_SYMBOL) :].strip()
    if raw.startswith("-"):
        raise MoneyInputError("The amount cannot be negative.")
    if not _TYPED_CHARACTERS.fullmatch(raw) or not any(ch.isdigit() for ch in raw):
        raise MoneyInputError("Enter an amount in dollars, for example 10.50.")
    whole, point, fraction = raw.partition(".")
    if "." in fraction or "," in fraction:
        raise MoneyInputError(AMBIGUOUS_SEPARATOR)
    if "," in whole:
        if not _THOUSANDS.fullmatch(whole):
            raise MoneyInputError(AMBIGUOUS_SEPARATOR)
        whole = whole.replace(",", "")
    if len(fraction.rstrip("0")) > 2:
        raise MoneyInputError("Use at most 2 decimals (whole cents).")
    if len(whole.lstrip("0")) > 12:  # before Decimal maths on a huge number
        raise MoneyInputError(_too_large())
    amount = Decimal(f"{whole or 0}{point}{fraction}")
    if amount > MAX_TYPED_DOLLARS:
        raise MoneyInputError(_too_large())
    return amount


def parse_dollars_to_cents(text: str | Decimal) -> int:
    return dollars_to_cents(parse_dollars(text))


def parse_dollars_to_microdollars(text: str | Decimal) -> int:
    return dollars_to_microdollars(parse_dollars(text))


def _too_large() -> str:
    return f"That amount is too large (the most is {format_dollars(MAX_TYPED_DOLLARS, 0)})."
