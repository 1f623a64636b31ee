"""Checks shared by forms and services of several apps."""

import unicodedata

from django.core.exceptions import ValidationError


def single_line_problem(value: str) -> str:
    """What makes `value` unfit for a one-line field that may end up in an email header or a CSV
    ("" when nothing does): line breaks, tabs, NUL and every other control character (Unicode
    category Cc), the line and paragraph separators (Zl, Zp) and lone surrogates (Cs)."""
    for character in value:
        category = unicodedata.category(character)
        if category in ("Cc", "Zl", "Zp", "Cs"):
            return "must be one line of text, without line breaks or control characters"
    return ""


def validate_single_line(value: str) -> None:
    problem = single_line_problem(value)
    if problem:
        raise ValidationError(f"This field {problem}.", code="control_characters")
