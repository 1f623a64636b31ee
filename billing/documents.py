"""Receipts and monthly statements: numbered per organization, rendered by WeasyPrint in a task,
stored once and never changed (a document with issued_at set is never rendered again)."""

import hashlib
import zoneinfo
from datetime import date, datetime, time, timedelta

from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import Max, Q, Sum
from django.template.loader import render_to_string
from django.utils import timezone

from kilo_dashboard.jobs import enqueue
from kilo_dashboard.money import cents_to_microdollars
from organizations.models import Organization

from .ledger import account_for
from .models import (
    BillingAccount,
    CreditLedgerEntry,
    Document,
    DocumentKind,
    LedgerKind,
    Payment,
    SeatCharge,
    StripeCustomer,
    StripeInvoice,
)


def _next_sequence(organization: Organization) -> int:
    """Under a lock on the billing account row, so numbers are gap-free and never reused."""
    account_for(organization)
    BillingAccount.objects.select_for_update().get(organization=organization)
    last = Document.objects.filter(organization=organization).aggregate(m=Max("sequence"))["m"]
    return (last or 0) + 1


def receipt_request(payment: Payment) -> Document:
    """Inside the transaction that marks the payment succeeded."""
    existing = Document.objects.filter(payment=payment).first()
    if existing:
        return existing
    document = Document.objects.create(
        organization=payment.organization,
        kind=DocumentKind.RECEIPT,
        sequence=_next_sequence(payment.organization),
        payment=payment,
    )
    transaction.on_commit(lambda: enqueue("billing.tasks.render_document", document.pk))
    return document


def month_start(day: date) -> date:
    return day.replace(day=1)


def previous_month(day: date) -> date:
    return (month_start(day) - timedelta(days=1)).replace(day=1)


def statement_request(organization: Organization, period_start: date) -> Document | None:
    """Create the statement for the month starting `period_start` (once) and queue rendering."""
    period_end = (period_start.replace(day=28) + timedelta(days=4)).replace(day=1)
    try:
        with transaction.atomic():
            if Document.objects.filter(
                organization=organization, kind=DocumentKind.STATEMENT, period_start=period_start
            ).exists():
                return None
            document = Document.objects.create(
                organization=organization,
                kind=DocumentKind.STATEMENT,
                sequence=_next_sequence(organization),
                period_start=period_start,
                period_end=period_end,
            )
            transaction.on_commit(lambda: enqueue("billing.tasks.render_document", document.pk))
    except IntegrityError:
        return None
    return document


def statements_due(now: datetime | None = None) -> list[tuple[int, date]]:
    """(organization id, period start) of every org whose last month has no statement yet.

    "The first of the month in the org's time zone": an org is due once its local date is in a
    new month; running hourly catches every time zone, and running late catches up.
    """
    now = now or timezone.now()
    issued = set(
        Document.objects.filter(kind=DocumentKind.STATEMENT).values_list(
            "organization_id", "period_start"
        )
    )
    due = []
    for org_id, tz_name, created_at in Organization.objects.values_list(
        "pk", "time_zone", "created_at"
    ):
        local_today = timezone.localtime(now, zoneinfo.ZoneInfo(tz_name or "UTC")).date()
        period = previous_month(local_today)
        created_local = timezone.localtime(created_at, zoneinfo.ZoneInfo(tz_name or "UTC"))
        if created_local.date() >= month_start(local_today):
            continue  # the org did not exist during that month
        if (org_id, period) not in issued:
            due.append((org_id, period))
    return due


def _tz_of(organization: Organization) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(organization.time_zone or "UTC")


def _bounds(organization: Organization, start: date, end: date) -> tuple[datetime, datetime]:
    tz = zoneinfo.ZoneInfo(organization.time_zone or "UTC")
    return datetime.combine(start, time.min, tz), datetime.combine(end, time.min, tz)


def statement_figures(organization: Organization, period_start: date, period_end: date) -> dict:
    """The month's credit figures by effective date (the local day each movement belongs to),
    so opening + every line = closing, and the Usage line is the cost of the month's usage
    however late it was debited. `period_end` is exclusive."""
    entries = CreditLedgerEntry.objects.filter(organization=organization)
    opening = _sum(entries.filter(effective_date__lt=period_start))
    closing = _sum(entries.filter(effective_date__lt=period_end))
    in_period = entries.filter(effective_date__gte=period_start, effective_date__lt=period_end)
    usage = Q(kind=LedgerKind.USAGE) | Q(usage_day__isnull=False)  # debits and their corrections
    by_kind = {
        row["kind"]: row["total"]
        for row in in_period.exclude(usage)
        .order_by()
        .values("kind")
        .annotate(total=Sum("amount_microdollars"))
    }
    activity = []
    running = opening
    for entry in in_period.order_by("effective_date", "id"):
        running += entry.amount_microdollars
        activity.append({"entry": entry, "balance_microdollars": running})
    return {
        "opening": opening,
        "closing": closing,
        "purchased": by_kind.get(LedgerKind.PURCHASE, 0),
        "promotional": by_kind.get(LedgerKind.PROMOTIONAL, 0),
        "refunded": by_kind.get(LedgerKind.REFUND, 0),
        "adjusted": by_kind.get(LedgerKind.ADJUSTMENT, 0),
        "used": _sum(in_period.filter(usage)),
        "activity": activity,
    }


def _sum(entries) -> int:  # noqa: ANN001
    return entries.aggregate(s=Sum("amount_microdollars"))["s"] or 0


def statement_context(document: Document) -> dict:
    organization = document.organization
    start, end = _bounds(organization, document.period_start, document.period_end)
    seat_charges = list(
        SeatCharge.objects.filter(
            organization=organization, charged_at__gte=start, charged_at__lt=end
        ).select_related("document")
    )
    seat_invoices = StripeInvoice.objects.filter(
        Q(period_start__lt=end) & Q(period_end__gt=start), organization=organization
    ).exclude(stripe_id__in=[charge.stripe_ref for charge in seat_charges])  # listed once
    return {
        "organization": organization,
        "customer": StripeCustomer.objects.filter(organization=organization).first(),
        "document": document,
        "period_start": document.period_start,
        "period_end_inclusive": document.period_end - timedelta(days=1),
        **statement_figures(organization, document.period_start, document.period_end),
        "usage_breakdown": _usage_breakdown(document),
        "seat_invoices": list(seat_invoices),
        "seat_charges": sorted(seat_charges, key=lambda charge: (charge.charged_at, charge.pk)),
    }


def _usage_breakdown(document: Document) -> dict:
    """Usage by member and by model for the statement's month, read through the Usage app's
    selectors (its daily rollups); empty when that app is absent or has no data."""
    try:
        from usage.filters import UsageFilters
        from usage.selectors import usage_page
    except ImportError:  # pragma: no cover - the Usage app ships with the dashboard
        return {}
    first, last = document.period_start, document.period_end - timedelta(days=1)
    span = last - first + timedelta(days=1)
    filters = UsageFilters(
        range="custom",
        start=first,
        end=last,
        previous_start=first - span,
        previous_end=first - timedelta(days=1),
        today=last,
    )
    page = usage_page(document.organization, filters, all_members=True)
    if not page.has_data:
        return {}
    return {
        "by_member": [
            {
                "name": row.name or row.email,
                "requests": row.totals.requests,
                "cost_microdollars": row.totals.cost,
            }
            for row in page.members or []
            if row.totals.requests
        ],
        "by_model": [
            {
                "name": f"{row.provider}/{row.model}" if row.provider else row.model,
                "requests": row.totals.requests,
                "cost_microdollars": row.totals.cost,
            }
            for row in page.models
            if row.totals.requests
        ],
    }


def receipt_context(document: Document) -> dict:
    payment = document.payment
    return {
        "organization": document.organization,
        "customer": StripeCustomer.objects.filter(organization=document.organization).first(),
        "document": document,
        "payment": payment,
        "credits": cents_to_microdollars(payment.amount_cents),
    }


def seat_receipt_context(document: Document) -> dict:
    charge = SeatCharge.objects.get(document=document)
    invoice = StripeInvoice.objects.filter(stripe_id=charge.stripe_ref).first()
    return {
        "organization": document.organization,
        "customer": StripeCustomer.objects.filter(organization=document.organization).first(),
        "document": document,
        "charge": charge,
        "hosted_invoice_url": invoice.hosted_invoice_url if invoice else "",
    }


def render_pdf(document: Document) -> bytes:
    from weasyprint import HTML

    with timezone.override(zoneinfo.ZoneInfo(document.organization.time_zone or "UTC")):
        if document.kind == DocumentKind.RECEIPT:
            html = render_to_string("pdf/receipt.html", receipt_context(document))
        elif document.kind == DocumentKind.SEAT_RECEIPT:
            html = render_to_string("pdf/seat_receipt.html", seat_receipt_context(document))
        else:
            html = render_to_string("pdf/statement.html", statement_context(document))
    return HTML(string=html).write_pdf()


def unissued_document_ids(older_than: timedelta = timedelta(minutes=30)) -> list[int]:
    """Documents requested but still not rendered after `older_than` (their task failed)."""
    cutoff = timezone.now() - older_than
    return list(
        Document.objects.filter(issued_at=None, created_at__lt=cutoff).values_list("pk", flat=True)
    )


def document_render(document_id: int) -> Document:
    """Render and store once. Issued documents are immutable: a second run changes nothing."""
    document = Document.objects.select_related("organization", "payment").get(pk=document_id)
    if document.is_issued:
        return document
    pdf = render_pdf(document)
    with transaction.atomic():
        locked = Document.objects.select_for_update().get(pk=document_id)
        if locked.is_issued:
            return locked
        locked.file.save(f"{document.number}.pdf", ContentFile(pdf), save=False)
        locked.sha256 = hashlib.sha256(pdf).hexdigest()
        locked.issued_at = timezone.now()
        locked.save(update_fields=["file", "sha256", "issued_at"])
    return locked
