"""Bring local state in line with Stripe's, for one Stripe object at a time.

Webhook handlers call these with the object's id; each re-fetches the object from Stripe (events
may arrive late, twice or out of order, the object's current state is the truth) and is
idempotent: running it again changes nothing.
"""

from datetime import UTC, datetime

from django.db import transaction
from django.utils import timezone

from audit.services import Actor, audit_record
from kilo_dashboard.money import cents_to_microdollars
from kilo_dashboard.money import format_cents as cents
from organizations.models import Organization

from . import stripe_gateway as gateway
from .balance import ledger_post
from .models import (
    LedgerKind,
    Payment,
    PaymentMethod,
    PaymentStatus,
    StripeCustomer,
    StripeInvoice,
)
from .refunds import charge_refunds_sync  # noqa: F401 - the charge.refunded handler


def _customer(stripe_customer_id: str) -> StripeCustomer | None:
    if not stripe_customer_id:
        return None
    return (
        StripeCustomer.objects.select_related("organization")
        .filter(stripe_id=stripe_customer_id)
        .first()
    )


def _find_payment(intent: gateway.PaymentIntentData) -> Payment | None:
    payment = Payment.objects.filter(stripe_payment_intent_id=intent.id).first()
    if payment is None and intent.metadata.get("payment"):
        # Our row is created before the PaymentIntent; its id may not be saved yet.
        payment = Payment.objects.filter(public_id=intent.metadata["payment"]).first()
    return payment


def payment_intent_sync(payment_intent_id: str) -> Payment | None:
    intent = gateway.payment_intent_retrieve(payment_intent_id)
    payment = _find_payment(intent)
    if payment is None:
        return None  # not a payment this dashboard started (e.g. a subscription invoice)
    from . import documents

    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment.pk)
        old_status = payment.status
        payment.stripe_payment_intent_id = intent.id
        if intent.latest_charge:
            payment.stripe_charge_id = intent.latest_charge
        if payment.status == PaymentStatus.SUCCEEDED:
            payment.save()
            return payment  # final: a late payment_failed cannot undo a success
        if intent.status == "succeeded":
            payment.status = PaymentStatus.SUCCEEDED
            payment.succeeded_at = timezone.now()
            payment.failure_code = payment.failure_message = ""
            payment.save()
            ledger_post(
                organization=payment.organization,
                kind=LedgerKind.PURCHASE,
                amount_microdollars=cents_to_microdollars(intent.amount),
                idempotency_key=f"payment_intent:{intent.id}",
                description=f"{payment.get_purpose_display()} ({payment.card_label})".strip(),
                payment=payment,
                created_by=payment.created_by,
            )
            audit_record(
                actor=Actor.system(),
                action="billing.payment_succeeded",
                organization=payment.organization,
                target=payment,
                target_label=f"Payment of {cents(intent.amount)}",
            )
            documents.receipt_request(payment)
        elif intent.status == "requires_payment_method" and intent.failure_message:
            payment.status = PaymentStatus.FAILED
            payment.failure_code = intent.failure_code[:64]
            payment.failure_message = intent.failure_message[:500]
            payment.save()
        elif intent.status == "canceled":
            payment.status = PaymentStatus.CANCELED
            payment.save()
        elif intent.status in ("processing", "requires_capture"):
            payment.status = PaymentStatus.PROCESSING
            payment.save()
        elif intent.status == "requires_action":
            payment.status = PaymentStatus.REQUIRES_ACTION
            payment.save()
        else:
            payment.save()
        if payment.status not in (old_status, PaymentStatus.SUCCEEDED):  # success audited above
            audit_payment_status(payment, old_status)
    return payment


def audit_payment_status(payment: Payment, old_status: str) -> None:
    """Audit a payment's move to a status other than success (failed, canceled, pending)."""
    audit_record(
        actor=Actor.system(),
        action="billing.payment_status_changed",
        organization=payment.organization,
        target=payment,
        target_label=f"Payment of {cents(payment.amount_cents)}",
        before={"status": old_status},
        after={"status": payment.status, "failure_message": payment.failure_message},
    )


def setup_intent_sync(setup_intent_id: str) -> PaymentMethod | None:
    intent = gateway.setup_intent_retrieve(setup_intent_id)
    customer = _customer(intent.customer)
    if customer is None or intent.status != "succeeded" or not intent.payment_method:
        return None
    return payment_method_sync(intent.payment_method, customer=customer)


def mirror_card(organization: Organization, card: gateway.CardData) -> PaymentMethod:
    method, _ = PaymentMethod.objects.update_or_create(
        stripe_id=card.id,
        defaults={
            "organization": organization,
            "brand": card.brand,
            "last4": card.last4,
            "exp_month": card.exp_month,
            "exp_year": card.exp_year,
            "detached_at": None,
        },
    )
    return method


def payment_method_sync(
    payment_method_id: str, *, customer: StripeCustomer | None = None
) -> PaymentMethod | None:
    card = gateway.payment_method_retrieve(payment_method_id)
    customer = _customer(card.customer) or customer
    if not card.customer:
        # Detached in Stripe: keep the mirror row for history, mark it gone.
        PaymentMethod.objects.filter(stripe_id=card.id, detached_at__isnull=True).update(
            detached_at=timezone.now(), is_default=False
        )
        return None
    if customer is None or card.customer != customer.stripe_id:
        return None
    with transaction.atomic():
        return mirror_card(customer.organization, card)


def customer_sync(stripe_customer_id: str) -> StripeCustomer | None:
    customer = _customer(stripe_customer_id)
    if customer is None:
        return None
    data = gateway.customer_retrieve(stripe_customer_id)
    with transaction.atomic():
        methods = PaymentMethod.objects.filter(organization=customer.organization)
        if data.default_payment_method:
            target = methods.filter(
                stripe_id=data.default_payment_method, detached_at__isnull=True
            ).first()
            if target and not target.is_default:
                methods.filter(is_default=True).update(is_default=False)
                methods.filter(pk=target.pk).update(is_default=True)
        if data.email and data.email != customer.email:
            StripeCustomer.objects.filter(pk=customer.pk).update(email=data.email)
    return customer


def _ts(value: int | None) -> datetime | None:
    return datetime.fromtimestamp(value, tz=UTC) if value else None


def invoice_sync(invoice_id: str) -> StripeInvoice | None:
    data = gateway.invoice_retrieve(invoice_id)
    customer = _customer(data.customer)
    if customer is None:
        return None
    invoice, _ = StripeInvoice.objects.update_or_create(
        stripe_id=data.id,
        defaults={
            "organization": customer.organization,
            "number": data.number,
            "status": data.status,
            "amount_due_cents": data.amount_due,
            "amount_paid_cents": data.amount_paid,
            "currency": data.currency,
            "period_start": _ts(data.period_start),
            "period_end": _ts(data.period_end),
            "hosted_invoice_url": data.hosted_invoice_url,
            "stripe_created_at": _ts(data.created),
        },
    )
    return invoice
