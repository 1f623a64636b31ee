"""Seat charges and their receipts (billing's side of a subscription payment).

The subscriptions app calls `seat_charge_record` when it applies a paid change; billing never
calls the subscriptions app.
"""

from datetime import datetime

from django.db import transaction
from django.db.models import OuterRef, Subquery

from kilo_dashboard.jobs import enqueue
from organizations.models import Organization

from .documents import _next_sequence
from .models import Document, DocumentKind, SeatCharge, StripeInvoice


def seat_charge_record(
    *,
    organization: Organization,
    stripe_ref: str,
    description: str,
    lines: list[dict],
    amount_cents: int,
    charged_at: datetime,
    created_by: object = None,
) -> SeatCharge:
    """Record the charge and request its receipt, once per Stripe reference, inside the
    caller's transaction (the receipt exists exactly when the change it paid for does)."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("seat_charge_record runs inside the caller's transaction.")
    existing = SeatCharge.objects.filter(stripe_ref=stripe_ref).first()
    if existing is not None:
        return existing
    document = Document.objects.create(
        organization=organization,
        kind=DocumentKind.SEAT_RECEIPT,
        sequence=_next_sequence(organization),
    )
    charge = SeatCharge.objects.create(
        organization=organization,
        stripe_ref=stripe_ref,
        description=description[:255],
        lines=lines,
        amount_cents=amount_cents,
        charged_at=charged_at,
        created_by=created_by,
        document=document,
    )
    transaction.on_commit(lambda: enqueue("billing.tasks.render_document", document.pk))
    return charge


def seat_charges_for(organization: Organization, limit: int = 50) -> list[SeatCharge]:
    """The newest seat charges, for the Billing tab's payment history."""
    hosted = StripeInvoice.objects.filter(stripe_id=OuterRef("stripe_ref"))
    return list(
        SeatCharge.objects.filter(organization=organization)
        .select_related("document")
        .annotate(hosted_invoice_url=Subquery(hosted.values("hosted_invoice_url")[:1]))
        .order_by("-charged_at", "-id")[:limit]
    )
