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

from . import stripe_gateway as gateway
from .ledger import ledger_append
from .models import (
    LedgerKind,
    Payment,
    PaymentMethod,
    PaymentStatus,
    Refund,
    StripeCustomer,
    StripeInvoice,
)


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
            ledger_append(
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


def charge_refunds_sync(charge_id: str) -> list[Refund]:
    """Every succeeded refund of the charge becomes a negative ledger entry, once."""
    charge = gateway.charge_retrieve(charge_id)
    payment = Payment.objects.filter(stripe_charge_id=charge.id).first()
    if payment is None and charge.payment_intent:
        payment = Payment.objects.filter(stripe_payment_intent_id=charge.payment_intent).first()
    if payment is None:
        return []
    refunds = gateway.refunds_for_charge(charge.id)
    recorded: list[Refund] = []
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment.pk)
        for data in refunds:
            if data.status != "succeeded":
                continue
            refund, _ = Refund.objects.get_or_create(
                stripe_id=data.id,
                defaults={
                    "organization": payment.organization,
                    "payment": payment,
                    "amount_cents": data.amount,
                    "status": data.status,
                },
            )
            entry = ledger_append(
                organization=payment.organization,
                kind=LedgerKind.REFUND,
                amount_microdollars=-cents_to_microdollars(data.amount),
                idempotency_key=f"refund:{data.id}",
                description=f"Refund of a {payment.get_purpose_display().lower()}",
                refund=refund,
                payment=payment,
            )
            if entry is not None:
                audit_record(
                    actor=Actor.system(),
                    action="billing.refund_recorded",
                    organization=payment.organization,
                    target=refund,
                    target_label=f"Refund of {cents(data.amount)}",
                )
            recorded.append(refund)
        total = sum(r.amount for r in refunds if r.status == "succeeded")
        payment.amount_refunded_cents = max(total, charge.amount_refunded)
        payment.stripe_charge_id = charge.id
        payment.save(update_fields=["amount_refunded_cents", "stripe_charge_id", "updated_at"])
    return recorded


def payment_refund(*, actor: Actor, payment: Payment, amount_cents: int) -> list[Refund]:
    """Refund (part of) a payment in Stripe, then record it as charge.refunded would."""
    if not payment.stripe_payment_intent_id or payment.status != PaymentStatus.SUCCEEDED:
        raise ValueError("Only a succeeded payment can be refunded.")
    if not 0 < amount_cents <= payment.amount_cents - payment.amount_refunded_cents:
        raise ValueError("The refund exceeds what is left of the payment.")
    gateway.refund_create(
        payment_intent_id=payment.stripe_payment_intent_id,
        amount_cents=amount_cents,
        idempotency_key=f"refund-{payment.public_id}-{payment.amount_refunded_cents}-{amount_cents}",
    )
    if not payment.stripe_charge_id:
        payment_intent_sync(payment.stripe_payment_intent_id)
        payment.refresh_from_db()
    return charge_refunds_sync(payment.stripe_charge_id)


def setup_intent_sync(setup_intent_id: str) -> PaymentMethod | None:
    intent = gateway.setup_intent_retrieve(setup_intent_id)
    customer = _customer(intent.customer)
    if customer is None or intent.status != "succeeded" or not intent.payment_method:
        return None
    return payment_method_sync(intent.payment_method, customer=customer)


def payment_method_sync(
    payment_method_id: str, *, customer: StripeCustomer | None = None
) -> PaymentMethod | None:
    from .services import mirror_card

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
