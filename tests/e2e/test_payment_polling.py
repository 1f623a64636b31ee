"""In the browser, a payment shown "Processing" turns into "Succeeded" (and the balance updates)
without a reload, once it is settled; then the row stops asking."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from playwright.sync_api import expect

from billing.ledger import ledger_append
from billing.models import Payment, PaymentStatus
from tests.e2e.steps import log_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_processing_payment_settles_on_screen(live_server, org, owner, new_page):
    payment = Payment.objects.create(
        organization=org,
        stripe_payment_intent_id="pi_e2e_polling",
        purpose="credit_purchase",
        amount_cents=250_00,
        status=PaymentStatus.PROCESSING,
        card_label="Visa ···· 4242",
    )
    base = live_server.url
    page = new_page()
    log_in(page, base, owner.email)
    page.goto(f"{base}/orgs/{org.slug}/billing/")
    row = page.locator(f"#payment-{payment.public_id}")
    expect(row.get_by_test_id("payment-status")).to_have_text("Processing")
    expect(page.get_by_test_id("balance")).to_have_text("$0.00")

    # What the payment_intent.succeeded webhook does, reduced to its effect on the page.
    with transaction.atomic():
        Payment.objects.filter(pk=payment.pk).update(
            status=PaymentStatus.SUCCEEDED,
            succeeded_at=timezone.now() - timedelta(minutes=11),  # receipt wait over
        )
        ledger_append(
            organization=org,
            kind="purchase",
            amount_microdollars=250_000_000,
            idempotency_key="pi_e2e_polling",
            payment=payment,
        )

    expect(row.get_by_test_id("payment-status")).to_have_text("Succeeded")
    expect(page.get_by_test_id("balance")).to_have_text("$250.00")
    assert row.get_attribute("hx-trigger") is None  # it stopped asking
