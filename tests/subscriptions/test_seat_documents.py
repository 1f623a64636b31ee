"""Every seat charge has a document: our receipt PDF, listed in the Billing tab's payment
history and in the monthly statement's "Seat charges"."""

import re
import zoneinfo

import pytest
from django.urls import reverse
from django.utils import timezone

from billing import documents
from billing.models import DocumentKind, SeatCharge
from subscriptions import intents, services
from tests.conftest import actor, client_for
from tests.subscriptions.conftest import in_stripe, stripe_prorated, subscribe

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_first_payment_and_a_proration_each_get_a_receipt_listed_everywhere(
    org, owner, admin, member
):
    sub = subscribe(org, owner, seats=10)
    preview = services.change_preview(org, add_seats=2)
    intents.seats_add(
        actor=actor(admin),
        organization=org,
        seats=2,
        proration_date=preview.proration_date,
        request_key="two",
    )
    data = in_stripe(sub)
    proration = stripe_prorated(
        old_total=10 * 15_00,
        new_total=12 * 15_00,
        period_start=data.current_period_start,
        period_end=data.current_period_end,
        at=preview.proration_date,
    )

    first, added = SeatCharge.objects.filter(organization=org).order_by("charged_at", "id")
    assert first.amount_cents == 10 * 15_00  # 10 seats x $15, the first month
    assert added.amount_cents == proration
    assert sum(line["amount_cents"] for line in added.lines) == proration
    for charge in (first, added):
        assert charge.document.kind == DocumentKind.SEAT_RECEIPT
        assert charge.document.is_issued  # rendered by the (eager) task
        assert charge.document.file.read().startswith(b"%PDF")

    page = client_for(admin).get(reverse("billing_tab", args=[org.slug]))
    text = re.sub(r"\s+", " ", page.content.decode())
    rows = re.findall(r'<tr data-testid="seat-charge">(.*?)</tr>', text)
    assert len(rows) == 2
    assert "$150.00" in rows[1] and "Subscribed" in rows[1]
    assert "Seats added" in rows[0]
    download = reverse("billing_document_download", args=[org.slug, added.document.public_id])
    assert download in rows[0]
    response = client_for(admin).get(download)
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"

    month = timezone.localtime(first.charged_at, zoneinfo.ZoneInfo(org.time_zone)).date()
    statement = documents.statement_request(org, month.replace(day=1))
    context = documents.statement_context(statement)
    assert [charge.amount_cents for charge in context["seat_charges"]] == [15_000, proration]
    statement.refresh_from_db()
    assert statement.is_issued
