"""The Usage tab's long tables, built in Python: the cells the template filters would give, and
people's names escaped."""

from datetime import date

from usage.filters import UsageFilters
from usage.selectors import DayRow, MemberRow, Totals, UsagePage
from usage.tables import day_rows, member_rows, weekly_rows


def _page(**fields) -> UsagePage:
    return UsagePage(has_data=True, filters=UsageFilters.__new__(UsageFilters), **fields)


def test_day_rows():
    totals = Totals(
        requests=1250,
        errors=3,
        input_tokens=1234567,
        output_tokens=89,
        cache_read_tokens=0,
        cache_write_tokens=1000,
        cost=12_345_678,
    )
    html = day_rows(_page(days=[DayRow(date(2026, 11, 3), totals)]))
    # 12,345,678 microdollars = $12.35 (half up); successes = 1250 - 3.
    assert html == (
        '<tr><th scope="row">Tue 3 Nov 2026</th><td>$12.35</td><td>1,247</td><td>3</td>'
        "<td>1,234,567</td><td>89</td><td>0</td><td>1,000</td></tr>"
    )


def test_weekly_rows_and_no_usage():
    grid = [[0] * 24 for _ in range(7)]
    grid[2][9] = 6
    html = weekly_rows(_page(weekly=grid))
    assert html.startswith('<tr><th scope="row">Mon</th><td>0</td>')
    assert '<tr><th scope="row">Wed</th>' + "<td>0</td>" * 9 + "<td>6</td>" in html
    assert html.count("<tr>") == 7
    assert weekly_rows(_page(weekly=[])) == ""


def test_member_rows_escape_names():
    totals = Totals(requests=200, errors=1, input_tokens=900, output_tokens=100, cost=2_500_000)
    row = MemberRow(7, "m1", "<b>Ada</b> & co", "ada@x.test", totals, cost_share=0.25)
    assert member_rows(_page(members=[row])) == (
        '<tr><th scope="row">&lt;b&gt;Ada&lt;/b&gt; &amp; co<span class="muted usage-email">'
        "ada@x.test</span></th><td>200</td><td>0.50%</td><td>1,000</td><td>$2.50</td>"
        "<td>25.0%</td></tr>"
    )
