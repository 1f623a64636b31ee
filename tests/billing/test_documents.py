"""Receipt and statement PDFs: numbered per org, stored, immutable, text checked."""

import io
from datetime import UTC, date, datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from pypdf import PdfReader

from billing import documents
from billing.ledger import ledger_append
from billing.models import Document, DocumentKind
from organizations.models import Organization
from tests.billing.conftest import add_card, deliver
from tests.billing.test_purchase_flow import buy, succeeded_event
from tests.conftest import client_for, make_org

pytestmark = pytest.mark.django_db(transaction=True)


def pdf_text(document: Document) -> str:
    with document.file.open("rb") as handle:
        reader = PdfReader(io.BytesIO(handle.read()))
    return "\n".join(page.extract_text() for page in reader.pages)


def test_a_receipt_for_each_successful_payment_with_number_amount_and_date(org, owner, admin):
    add_card(org, owner)
    first = buy(org, owner, 100_00)
    deliver(succeeded_event(first))
    second = buy(org, owner, 1_000_00)
    deliver(succeeded_event(second))
    receipts = list(Document.objects.filter(organization=org).order_by("sequence"))
    assert [d.sequence for d in receipts] == [1, 2]
    text = pdf_text(receipts[1])
    assert "Receipt" in text and "ACME-R00002" in text
    assert "$1,000.00" in text
    second.refresh_from_db()
    assert (
        second.succeeded_at.astimezone(documents.zoneinfo.ZoneInfo(org.time_zone)).strftime(
            "%-d %B %Y"
        )
        in text
    )

    response = client_for(admin).get(
        reverse("billing_document_download", args=[org.slug, receipts[1].public_id])
    )
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert b"".join(response.streaming_content).startswith(b"%PDF")


def test_documents_are_immutable_once_issued(org, owner):
    add_card(org, owner)
    payment = buy(org, owner)
    deliver(succeeded_event(payment))
    receipt = Document.objects.get(payment=payment)
    digest = receipt.sha256
    documents.document_render(receipt.pk)  # a second run changes nothing
    receipt.refresh_from_db()
    assert receipt.sha256 == digest
    receipt.sequence = 99
    with pytest.raises(ValidationError):
        receipt.save()


def test_another_orgs_document_is_404(org, owner, other_org, outsider):
    add_card(org, owner)
    payment = buy(org, owner)
    deliver(succeeded_event(payment))
    receipt = Document.objects.get(payment=payment)
    url = reverse("billing_document_download", args=[other_org.slug, receipt.public_id])
    assert client_for(outsider).get(url).status_code == 404


def test_a_monthly_statement_has_opening_and_closing_balance_and_activity(org):
    with transaction.atomic():
        ledger_append(
            organization=org,
            kind="promotional",
            amount_microdollars=80_000_000,
            idempotency_key="promo:s",
            description="Promotion code WELCOME",
        )
        ledger_append(
            organization=org,
            kind="usage",
            amount_microdollars=-12_345_678,
            idempotency_key="rollup:s",
            description="Usage: claude-sonnet-4",
        )
    today = datetime.now(tz=UTC).date()
    document = documents.statement_request(org, today.replace(day=1))
    document.refresh_from_db()
    assert document.kind == DocumentKind.STATEMENT and document.is_issued
    text = pdf_text(document)
    assert "Monthly statement" in text and document.number in text
    assert "Opening balance" in text and "$0.00" in text
    assert "$80.00" in text and "-$12.35" in text
    assert "Closing balance" in text and "$67.65" in text
    assert documents.statement_request(org, today.replace(day=1)) is None  # once per period


def test_statements_fall_due_on_the_first_in_each_orgs_time_zone(org):
    berlin = org  # Europe/Berlin
    utc = make_org("utc-co", "UTC Co")
    utc.time_zone = "UTC"
    utc.save()
    Organization.objects.update(created_at=datetime(2026, 9, 15, tzinfo=UTC))
    # 23:30 UTC on 30 November is already 1 December in Berlin.
    due = dict(documents.statements_due(datetime(2026, 11, 30, 23, 30, tzinfo=UTC)))
    assert due[berlin.pk] == date(2026, 11, 1)
    assert due[utc.pk] == date(2026, 10, 1)  # UTC is still in November: October is due
    from billing.tasks import issue_monthly_statements

    issue_monthly_statements()
    assert Document.objects.filter(kind="statement").count() == 2


def test_the_statement_shows_usage_by_member_and_by_model_from_the_usage_rollups(org, owner):
    from usage.models import MemberDailyRollup, ModelDailyRollup, OrgDailyRollup

    first = datetime.now(tz=UTC).date().replace(day=1)
    common = {"organization_id": org.pk, "day": first}
    OrgDailyRollup.objects.create(**common, requests=12, cost_microdollars=3_450_000)
    ModelDailyRollup.objects.create(
        **common,
        model="claude-sonnet-4",
        provider="anthropic",
        requests=12,
        cost_microdollars=3_450_000,
    )
    MemberDailyRollup.objects.create(
        **common, user_id=owner.pk, requests=12, cost_microdollars=3_450_000
    )
    document = documents.statement_request(org, first)
    document.refresh_from_db()
    text = pdf_text(document)
    assert "Olivia Owens" in text and "anthropic/claude-sonnet-4" in text
    assert "$3.45" in text


def test_a_document_whose_rendering_failed_is_found_again_after_half_an_hour(org):
    from datetime import timedelta

    import time_machine

    today = datetime.now(tz=UTC).date()
    document = documents.statement_request(org, today.replace(day=1))
    # As if the render task had died: requested, never issued.
    Document.objects.filter(pk=document.pk).update(issued_at=None, sha256="", file="")
    assert documents.unissued_document_ids() == []  # its task may still be running
    with time_machine.travel(datetime.now(tz=UTC) + timedelta(minutes=31)):
        assert documents.unissued_document_ids() == [document.pk]
        documents.document_render(document.pk)
        assert documents.unissued_document_ids() == []
    document.refresh_from_db()
    assert document.is_issued and "Monthly statement" in pdf_text(document)
