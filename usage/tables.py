"""The Usage tab's long tables (daily figures, the weekly grid, members) as HTML rows.

Built here rather than by template loops: they hold up to 1,700 cells, and the template
engine's lookups and filters per cell were half the time of a freshly built page. Text from
people (member names and emails) is escaped; numbers are formatted as the template filters
format them (`intcomma`, `microdollars`, `percent`).
"""

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from kilo_dashboard.money import format_microdollars

from .selectors import WEEKDAYS, UsagePage
from .templatetags.usage_format import percent


def _count(value: int) -> str:
    return f"{value:,}"


def day_rows(page: UsagePage) -> SafeString:
    """Day, spend, successful requests, errors and the four token kinds."""
    cells = []
    for row in page.days:
        t = row.totals
        day = f"{row.day:%a} {row.day.day} {row.day:%b %Y}"  # the date filter's "D j M Y"
        figures = (
            format_microdollars(t.cost, 2),
            _count(t.successes),
            _count(t.errors),
            _count(t.input_tokens),
            _count(t.output_tokens),
            _count(t.cache_read_tokens),
            _count(t.cache_write_tokens),
        )
        cells.append(
            f'<tr><th scope="row">{day}</th>{"".join(f"<td>{f}</td>" for f in figures)}</tr>'
        )
    return mark_safe("".join(cells))  # noqa: S308 - dates and numbers only


def weekly_rows(page: UsagePage) -> SafeString:
    """Requests per local weekday (rows) and hour (columns)."""
    return mark_safe(  # noqa: S308 - integers only
        "".join(
            f'<tr><th scope="row">{weekday}</th>{"".join(f"<td>{v}</td>" for v in row)}</tr>'
            for weekday, row in zip(WEEKDAYS, page.weekly, strict=False)  # empty: no usage
        )
    )


def member_rows(page: UsagePage) -> SafeString:
    """Member (name and email), requests, error rate, tokens, spend and share of spend."""
    cells = []
    for row in page.members or []:
        t = row.totals
        cells.append(
            f'<tr><th scope="row">{escape(row.name)}<span class="muted usage-email">'
            f"{escape(row.email)}</span></th><td>{_count(t.requests)}</td>"
            f"<td>{percent(t.error_rate, 2)}</td><td>{_count(t.tokens)}</td>"
            f"<td>{format_microdollars(t.cost, 2)}</td><td>{percent(row.cost_share)}</td></tr>"
        )
    return mark_safe("".join(cells))  # noqa: S308 - the text values are escaped above
