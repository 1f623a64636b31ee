"""kilo_dashboard.money: the one place money changes unit, becomes text or is parsed.

Expected values are worked out by hand in the comments."""

import re
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings

from kilo_dashboard import money
from kilo_dashboard.money_fields import DollarsField

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("cents", "text"),
    [(1050, "$10.50"), (0, "$0.00"), (-5, "-$0.05"), (123456789, "$1,234,567.89")],
)
def test_cents_format_as_dollars_with_the_cents(cents, text):
    assert money.format_cents(cents) == text


@pytest.mark.parametrize(
    ("micro", "places", "text"),
    [
        (1_234_567, 2, "$1.23"),
        (1_235_000, 2, "$1.24"),  # half up
        (-1_235_000, 2, "-$1.24"),  # half away from zero
        (1_234_567, 4, "$1.2346"),
        (4_999, 2, "$0.00"),
        (5_000, 2, "$0.01"),
    ],
)
def test_microdollars_format_rounded_half_up(micro, places, text):
    assert money.format_microdollars(micro, places) == text


def test_form_field_text_keeps_the_cents():
    assert money.cents_field(1050) == "10.50"  # the bug: `1050 // 100` showed "10"
    assert money.cents_field(1000) == "10.00"
    assert money.microdollars_field(20_000_000) == "20.00"
    assert money.microdollars_field(20_505_000) == "20.51"


def test_csv_text_is_rounded_to_cents():
    assert money.microdollars_text(1_596_999_237) == "1597.00"  # the 1596.999237
    assert money.microdollars_text(-1_234_567) == "-1.23"
    assert money.cents_text(-5) == "-0.05"
    assert money.microdollars_exact_text(1_234_567) == "1.234567"
    assert money.microdollars_exact_text(-7) == "-0.000007"


def test_unit_conversions_are_exact():
    assert money.cents_to_microdollars(1050) == 10_500_000
    assert money.cents_to_dollars(1050) == Decimal("10.50")
    assert money.dollars_to_cents(Decimal("10.50")) == 1050
    with pytest.raises(money.MoneyInputError):
        money.dollars_to_cents(Decimal("10.505"))


@pytest.mark.parametrize(
    ("numerator", "denominator", "expected"),
    [(7, 2, 4), (-7, 2, -4), (5, 3, 2), (4, 3, 1), (0, 9, 0), (1_000_001, 2, 500_001)],
)
def test_divide_half_up(numerator, denominator, expected):
    assert money.divide_half_up(numerator, denominator) == expected


# What a person may type, and what it means: written by hand, one row per rule. A number is the
# amount in cents; a string is (part of) the refusal's message.
POINT = "Use a point for cents, e.g. 10.50"
ENTER = "for example 10.50"
TYPED_AMOUNTS = [
    # plain amounts
    ("10.50", 1050),
    ("10.5", 1050),
    ("10", 1000),
    ("0", 0),
    (".5", 50),
    ("10.", 1000),
    ("0.01", 1),
    ("007.25", 725),  # leading zeros are harmless
    # precision: trailing zeros are not extra precision; a third significant decimal is refused
    ("10.500", 1050),
    ("10.5000000", 1050),
    ("10.505", "at most 2 decimals"),
    ("0.001", "at most 2 decimals"),
    # whitespace and the dollar sign
    (" 10 ", 1000),
    ("\t10.50\n", 1050),
    ("$10.50", 1050),
    ("$ 10.50", 1050),
    (" $1,050 ", 105000),
    ("1 050", ENTER),  # a space is not a thousands separator
    # commas: thousands separators in well-formed groups of three only
    ("1,050.00", 105000),
    ("12,345", 1234500),
    ("1,000,000.99", 100000099),
    ("10,50", POINT),  # the finding: was $1,050.00
    ("1,2,3", POINT),
    ("1,05.00", POINT),
    ("10.5.0", POINT),
    ("12.3.4", POINT),
    ("1000,000", POINT),  # a first group of four digits
    ("0,500", POINT),  # a group may not start the number with 0 (0,500 means one half abroad)
    (",5", POINT),
    ("1,050,", POINT),
    ("10.50,00", POINT),  # a comma after the point
    ("1,234.5,6", POINT),
    # negatives, non-numbers, sizes
    ("-5", "cannot be negative"),
    ("-$5", "cannot be negative"),
    ("$-5", "cannot be negative"),
    ("+5", ENTER),
    ("1e3", ENTER),
    ("NaN", ENTER),
    ("Infinity", ENTER),
    ("", ENTER),
    ("   ", ENTER),
    ("$", ENTER),
    (".", ENTER),
    (",", ENTER),
    ("١٠", ENTER),  # Arabic-Indic digits: not what the form asks for
    ("10²", ENTER),
    ("10000000", 1_000_000_000),  # the most that can be typed
    ("10,000,000.00", 1_000_000_000),
    ("10000000.01", "too large"),
    ("9" * 5000, "too large"),
]


@pytest.mark.parametrize(("typed", "expected"), TYPED_AMOUNTS)
def test_typed_dollars_parse_to_cents_or_are_refused_with_a_reason(typed, expected):
    if isinstance(expected, int):
        assert money.parse_dollars_to_cents(typed) == expected
    else:
        with pytest.raises(money.MoneyInputError, match=re.escape(expected)):
            money.parse_dollars(typed)


def test_the_auto_top_up_form_shows_the_separator_message():
    field = DollarsField(min_cents=10_00, max_cents=10_000_00)
    with pytest.raises(Exception, match=re.escape(POINT)):
        field.clean("10,50")


@pytest.mark.parametrize(
    ("amount", "parts", "shares"),
    [
        (100, 3, [34, 33, 33]),
        (-100, 3, [-34, -33, -33]),
        (6, 7, [1, 1, 1, 1, 1, 1, 0]),
        (0, 2, [0, 0]),
        (70, 7, [10] * 7),
        (1_000_003, 2, [500_002, 500_001]),
    ],
)
def test_allocate_splits_into_shares_that_sum_exactly(amount, parts, shares):
    assert money.allocate(amount, parts) == shares
    assert sum(shares) == amount


def test_dollars_field_cleans_to_cents_and_bounds_with_a_message():
    field = DollarsField(min_cents=10_00, max_cents=10_000_00)
    assert field.clean("10.50") == 1050
    with pytest.raises(Exception, match=r"between \$10.00 and \$10,000.00"):
        field.clean("9.99")
    with pytest.raises(Exception, match="at most 2 decimals"):
        field.clean("10.001")
    assert field.prepare_value(1050) == "10.50"


def test_the_currency_is_one_constant():
    assert settings.BILLING_CURRENCY == money.CURRENCY == "usd"


# --- no money conversion outside the money module ---------------------------------------------

MONEY_WORDS = re.compile(
    r"cent|dollar|usd|micro|amount|cost|price|balance|credit|charge|threshold|money|refund",
    re.IGNORECASE,
)
# Each pattern is a way money was (or could be) converted by hand somewhere.
SUSPECT = [
    (re.compile(r"\bfloat\("), "float()"),
    (re.compile(r"(?<![/:])//(?!/)"), "integer division"),
    (re.compile(r"/\s*100\b(?!_)"), "division by 100"),
    (re.compile(r"[/*]\s*1_?000_?000\b"), "scaling by a million"),
    (re.compile(r"\*\s*(10_?000|MICRODOLLARS_PER_CENT)\b"), "cents to microdollars"),
    (re.compile(r"\bround\("), "round()"),
    (re.compile(r"\|\s*floatformat"), "floatformat"),
    (re.compile(r"(?<!%)\{[^{}]*:,?\.\d+f\}"), "float format spec"),  # not plotly's %{y:.2f}
]
ALLOWED_FILES = {
    "kilo_dashboard/money.py",
    "kilo_dashboard/money_fields.py",
}
# Lines owned by another branch at the time of writing; each must go when that branch merges
# (the integrator replaces them with kilo_dashboard.money calls).
# Lines the patterns catch that are not money (a percentile's rank is "p / 100" too).
PENDING_ELSEWHERE: set[tuple[str, str]] = {
    ("usage/sketch.py", "ceil(n * p / 100)"),
    ("usage/sketch.py", "-(-n * percent // 100)"),
}
# The apps where every integer is money or a count next to money: any `//` here is reported,
# money words on the line or not (`-(total or 0) // 7` in billing/demo_timeline.py has none).
MONEY_APPS = {"billing", "subscriptions", "stripe_events"}
INTEGER_DIVISION = SUSPECT[1][0]
SKIP_DIRS = {".venv", "tests", "migrations", "node_modules", "staticfiles", "bench", ".git"}


def _source_files():
    for path in sorted(ROOT.rglob("*")):
        relative = path.relative_to(ROOT)
        if set(relative.parts) & SKIP_DIRS or not path.is_file():
            continue
        if path.suffix == ".py" or (
            relative.parts[0] == "templates" and path.suffix in {".html", ".txt"}
        ):
            yield relative.as_posix(), path


def relative_app(name: str) -> str:
    return name.split("/", 1)[0]


def money_conversions_outside_the_money_module() -> list[str]:
    found = []
    for name, path in _source_files():
        if name in ALLOWED_FILES:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            code = line.split("#", 1)[0] if name.endswith(".py") else line
            if relative_app(name) in MONEY_APPS and INTEGER_DIVISION.search(code):
                found.append(f"{name}:{number}: integer division in a money app: {line.strip()}")
                continue
            for pattern, what in SUSPECT:
                if pattern.search(code) and MONEY_WORDS.search(code):
                    if any(name == f and snippet in line for f, snippet in PENDING_ELSEWHERE):
                        continue
                    found.append(f"{name}:{number}: {what}: {line.strip()}")
                    break
    return found


def test_no_money_is_converted_outside_the_money_module():
    assert money_conversions_outside_the_money_module() == []


def test_the_grep_finds_the_conversions_it_is_meant_to_find(tmp_path, monkeypatch):
    """The guard itself: each way money used to be converted here is reported."""
    bad = tmp_path / "billing"
    bad.mkdir()
    (bad / "views.py").write_text(
        "amount = (top_up.amount_cents if top_up else 10_000) // 100\n"
        "cost = microdollars / 1_000_000\n"
        "credits = payment.amount_cents * 10_000\n"
        "x = float(cost)\n"
        "avg = round(self.cost / self.requests)\n"
        'label = f"${change.amount_cents / 100:,.2f}"\n'
        "pages = total // per_page  # not money\n",
        encoding="utf-8",
    )
    # The line the money-word rule missed: no money word, but billing is all money.
    (bad / "demo_timeline.py").write_text("    return -(total or 0) // 7\n", encoding="utf-8")
    (tmp_path / "usage").mkdir()
    (tmp_path / "usage" / "partitions.py").write_text(
        "    return date(index // 12, index % 12 + 1, 1)\n", encoding="utf-8"
    )
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "t.html").write_text(
        "{{ alert.threshold|floatformat:2 }}\n", encoding="utf-8"
    )
    monkeypatch.setattr(__import__(__name__, fromlist=["ROOT"]), "ROOT", tmp_path)
    found = money_conversions_outside_the_money_module()
    assert [line.split(":")[1] for line in found if line.startswith("billing/views.py")] == [
        "1",
        "2",
        "3",
        "4",
        "5",
        "6",
        "7",  # `total // per_page`: in billing, integer division is refused whatever it divides
    ]
    assert [line.split(": ")[1] for line in found if line.startswith("billing/demo")] == [
        "integer division in a money app"
    ]
    assert not any(line.startswith("usage/") for line in found)  # a month index, not money
    assert any(line.startswith("templates/t.html:1") for line in found)
