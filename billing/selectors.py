"""Reads for the Billing tab. Every query is scoped to the organization passed in."""

import zoneinfo
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.utils import timezone

from organizations.models import Organization

from .ledger import balance_of
from .models import (
    AutoTopUp,
    CreditLedgerEntry,
    Document,
    LowBalanceAlert,
    Payment,
    PaymentMethod,
    PaymentStatus,
    StripeCustomer,
    StripeInvoice,
)

HISTORY_PAGE_SIZE = 25


def customer_for(organization: Organization) -> StripeCustomer | None:
    return StripeCustomer.objects.filter(organization=organization).first()


def cards(organization: Organization) -> list[PaymentMethod]:
    return list(PaymentMethod.objects.filter(organization=organization, detached_at__isnull=True))


def auto_top_up(organization: Organization) -> AutoTopUp | None:
    return AutoTopUp.objects.filter(organization=organization).first()


def card_for(organization: Organization, public_id: str) -> PaymentMethod | None:
    return PaymentMethod.objects.filter(
        organization=organization, public_id=public_id, detached_at__isnull=True
    ).first()


def payment_for(organization: Organization, public_id: str) -> Payment | None:
    return Payment.objects.filter(organization=organization, public_id=public_id).first()


def document_for(organization: Organization, public_id: str) -> Document | None:
    return (
        Document.objects.select_related("organization")
        .filter(organization=organization, public_id=public_id, issued_at__isnull=False)
        .first()
    )


def recent_payments(organization: Organization, limit: int = 20) -> list[Payment]:
    return list(
        Payment.objects.filter(organization=organization)
        .exclude(status=PaymentStatus.CREATED)
        .select_related("receipt")
        .order_by("-created_at")[:limit]
    )


# How long after a payment succeeded its row keeps waiting for the receipt PDF (rendered by a
# task); past that the page stops asking and a failed rendering is retried by the hourly task.
RECEIPT_WAIT = timedelta(minutes=10)


def payment_settling(payment: Payment) -> bool:
    """Whether the payment's row should refresh itself: Stripe has not settled it yet, or it
    succeeded a moment ago and its receipt is still being made."""
    if payment.status == PaymentStatus.PROCESSING:
        return True
    if payment.status != PaymentStatus.SUCCEEDED:
        return False
    receipt = getattr(payment, "receipt", None)
    if receipt is not None and receipt.is_issued:
        return False
    settled_at = payment.succeeded_at or payment.updated_at
    return timezone.now() - settled_at < RECEIPT_WAIT


def documents(organization: Organization, limit: int = 24) -> list[Document]:
    return list(
        Document.objects.filter(organization=organization, issued_at__isnull=False)
        .select_related("organization")
        .order_by("-sequence")[:limit]
    )


def stripe_invoices(organization: Organization, limit: int = 24) -> list[StripeInvoice]:
    return list(StripeInvoice.objects.filter(organization=organization)[:limit])


@dataclass
class Cycle:
    label: str
    start: date
    invoices_paid: int = 0
    invoices_open: int = 0
    invoices_failed: int = 0
    purchases_cents: int = 0
    purchases_failed: int = 0
    refunded_cents: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        if self.invoices_failed:
            return "Payment failed"
        if self.invoices_open:
            return "Open"
        if self.invoices_paid or self.purchases_cents:
            return "Paid"
        if self.purchases_failed:
            return "Payment failed"
        return "No charges"

    @property
    def tone(self) -> str:
        return {"Paid": "ok", "Payment failed": "danger", "Open": "warn"}.get(self.status, "off")


def billing_cycles(organization: Organization, months: int = 6) -> list[Cycle]:
    """Payment status for each billing cycle (calendar month in the org's time zone)."""
    tz = zoneinfo.ZoneInfo(organization.time_zone or "UTC")
    today = timezone.localtime(timezone.now(), tz).date().replace(day=1)
    cycles: OrderedDict[str, Cycle] = OrderedDict()
    start = today
    for _ in range(months):
        cycles[start.strftime("%Y-%m")] = Cycle(label=start.strftime("%B %Y"), start=start)
        start = (start - timedelta(days=1)).replace(day=1)
    since = datetime.combine(start + timedelta(days=32), time.min, tz).replace(day=1)

    def key(moment: datetime | None) -> str:
        return timezone.localtime(moment, tz).strftime("%Y-%m") if moment else ""

    for invoice in StripeInvoice.objects.filter(
        organization=organization, stripe_created_at__gte=since
    ):
        cycle = cycles.get(key(invoice.period_start or invoice.stripe_created_at))
        if cycle is None:
            continue
        if invoice.status == "paid":
            cycle.invoices_paid += 1
        elif invoice.status == "open":
            cycle.invoices_open += 1
        elif invoice.status in ("uncollectible",):
            cycle.invoices_failed += 1
    for payment in Payment.objects.filter(organization=organization, created_at__gte=since):
        cycle = cycles.get(key(payment.created_at))
        if cycle is None:
            continue
        if payment.status == PaymentStatus.SUCCEEDED:
            cycle.purchases_cents += payment.amount_cents
            cycle.refunded_cents += payment.amount_refunded_cents
        elif payment.status == PaymentStatus.FAILED:
            cycle.purchases_failed += 1
    return list(cycles.values())


def history(
    organization: Organization,
    *,
    kind: str = "",
    date_from: date | None = None,
    date_to: date | None = None,
) -> QuerySet[CreditLedgerEntry]:
    """Ledger entries, newest first; dates are days in the org's time zone (inclusive)."""
    tz = zoneinfo.ZoneInfo(organization.time_zone or "UTC")
    entries = CreditLedgerEntry.objects.filter(organization=organization).select_related(
        "payment", "refund", "created_by"
    )
    if kind:
        entries = entries.filter(kind=kind)  # "subscription" matches no ledger entry
    if date_from:
        entries = entries.filter(created_at__gte=datetime.combine(date_from, time.min, tz))
    if date_to:
        entries = entries.filter(
            created_at__lt=datetime.combine(date_to + timedelta(days=1), time.min, tz)
        )
    return entries.order_by("-created_at", "-id")


def history_page(entries: QuerySet[CreditLedgerEntry], page_number: int) -> Page:
    return Paginator(entries, HISTORY_PAGE_SIZE).get_page(page_number)


def overview(organization: Organization) -> dict:
    return {
        "balance": balance_of(organization),
        "customer": customer_for(organization),
        "cards": cards(organization),
        "alert": LowBalanceAlert.objects.filter(organization=organization).first(),
        "top_up": auto_top_up(organization),
        "payments": recent_payments(organization),
        "documents": documents(organization),
        "invoices": stripe_invoices(organization),
        "cycles": billing_cycles(organization),
    }
