"""A payment shown "Processing" refreshes its own row until it is settled, then stops."""

import hashlib
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone

from billing.models import Document, DocumentKind, Payment, PaymentStatus
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def payment(org) -> Payment:
    return Payment.objects.create(
        organization=org,
        stripe_payment_intent_id="pi_polling",
        purpose="credit_purchase",
        amount_cents=250_00,
        status=PaymentStatus.PROCESSING,
        card_label="Visa ···· 4242",
    )


def _issue_receipt(payment: Payment) -> None:
    pdf = b"%PDF-1.7\n% receipt\n"
    document = Document(
        organization=payment.organization,
        kind=DocumentKind.RECEIPT,
        sequence=1,
        payment=payment,
        sha256=hashlib.sha256(pdf).hexdigest(),
        issued_at=timezone.now(),
    )
    document.file.save("receipt.pdf", ContentFile(pdf), save=False)
    document.save()


def _row(client, org, payment):  # noqa: ANN001, ANN202
    return client.get(reverse("billing_payment_row", args=[org.slug, payment.public_id]))


def test_the_tab_renders_a_processing_payment_as_a_polling_row(org, owner, payment):
    html = client_for(owner).get(reverse("billing_tab", args=[org.slug])).content.decode()
    row_url = reverse("billing_payment_row", args=[org.slug, payment.public_id])
    assert f'hx-get="{row_url}" hx-trigger="every 2s" hx-swap="outerHTML"' in html
    assert "Updates by itself when Stripe confirms." in html
    assert 'hx-trigger="billing-payment-settled from:body"' in html  # the summary listens


def test_the_row_keeps_polling_until_the_payment_and_its_receipt_are_settled(
    org, admin, payment, time_machine
):
    time_machine.move_to(timezone.now(), tick=False)
    client = client_for(admin)  # admins view billing too
    response = _row(client, org, payment)
    assert 'hx-trigger="every 2s"' in response.content.decode()
    assert "HX-Trigger" not in response

    Payment.objects.filter(pk=payment.pk).update(
        status=PaymentStatus.SUCCEEDED, succeeded_at=timezone.now()
    )
    response = _row(client, org, payment)
    html = response.content.decode()
    assert "Succeeded" in html and "Receipt being issued" in html
    assert 'hx-trigger="every 2s"' in html  # waits for the receipt

    _issue_receipt(payment)
    response = _row(client, org, payment)
    html = response.content.decode()
    assert "hx-trigger" not in html and ">Receipt</a>" in html  # settled: no more polling
    assert response["HX-Trigger"] == "billing-payment-settled"


def test_a_receipt_that_never_comes_stops_the_polling_after_ten_minutes(
    org, owner, payment, time_machine
):
    time_machine.move_to(timezone.now(), tick=False)
    Payment.objects.filter(pk=payment.pk).update(
        status=PaymentStatus.SUCCEEDED, succeeded_at=timezone.now()
    )
    time_machine.shift(timedelta(minutes=10, seconds=1))
    html = _row(client_for(owner), org, payment).content.decode()
    assert "hx-trigger" not in html


@pytest.mark.parametrize("status", [PaymentStatus.FAILED, PaymentStatus.CANCELED])
def test_failed_and_canceled_payments_do_not_poll(org, owner, payment, status):
    Payment.objects.filter(pk=payment.pk).update(status=status)
    assert "hx-trigger" not in _row(client_for(owner), org, payment).content.decode()


def test_another_organizations_payment_row_is_not_found(org, other_org, outsider, payment):
    assert _row(client_for(outsider), other_org, payment).status_code == 404
