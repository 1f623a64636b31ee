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


def card_state(method: PaymentMethod | None) -> dict:
    """A card as the audit log shows it; {} for no card, or one detached."""
    if method is None or method.detached_at is not None:
        return {}
    return {"brand": method.brand_label, "last4": method.last4, "expiry": method.expiry}


# Changes made in Stripe (its dashboard, its API) reach us here through webhooks and the daily
# reconcile; they are audited as done by Stripe (the ambient actor the event handling sets, see
# stripe_events.services), and only when the mirror actually changed: our own changes arrive
# back as events too, and a replayed event must record nothing new.


def payment_method_sync(
    payment_method_id: str, *, customer: StripeCustomer | None = None
) -> PaymentMethod | None:
    card = gateway.payment_method_retrieve(payment_method_id)
    customer = _customer(card.customer) or customer
    if not card.customer:
        _card_detached(card.id)
        return None
    if customer is None or card.customer != customer.stripe_id:
        return None
    with transaction.atomic():
        known = PaymentMethod.objects.select_for_update().filter(stripe_id=card.id).first()
        before = card_state(known)
        method = mirror_card(customer.organization, card)
        after = card_state(method)
        if before != after:
            audit_record(
                actor=Actor.system(),
                action="billing.card_updated" if before else "billing.card_added",
                organization=customer.organization,
                target=method,
                target_label=str(method),
                before=before or None,
                after=after,
            )
    return method


def _card_detached(stripe_id: str) -> None:
    """Detached in Stripe: keep the mirror row for history, mark it gone."""
    with transaction.atomic():
        method = (
            PaymentMethod.objects.select_for_update()
            .select_related("organization")
            .filter(stripe_id=stripe_id, detached_at__isnull=True)
            .first()
        )
        if method is None:
            return  # unknown, or already removed (through our Billing tab, or an earlier event)
        before = {**card_state(method), "default": method.is_default}
        PaymentMethod.objects.filter(pk=method.pk).update(
            detached_at=timezone.now(), is_default=False
        )
        audit_record(
            actor=Actor.system(),
            action="billing.card_removed",
            organization=method.organization,
            target=method,
            target_label=str(method),
            before=before,
        )


# The billing details a customer.updated event can change, as (our field, Stripe's value).
def _stripe_details(data: gateway.CustomerData) -> dict[str, str]:
    """What Stripe holds, limited to what is set there: our billing form sends no empty values
    to Stripe (gateway.customer_update), so an empty field in Stripe is not a change made
    there and must not blank our copy."""
    values = {"email": data.email, "name": data.name}
    values |= {f"address_{key}": value for key, value in data.address.items()}
    if "tax_id" in data.metadata:  # where gateway.customer_update keeps it
        values["tax_id"] = str(data.metadata["tax_id"])
    return {field: str(value) for field, value in values.items() if value}


def customer_sync(stripe_customer_id: str) -> StripeCustomer | None:
    customer = _customer(stripe_customer_id)
    if customer is None:
        return None
    data = gateway.customer_retrieve(stripe_customer_id)
    with transaction.atomic():
        customer = StripeCustomer.objects.select_for_update().get(pk=customer.pk)
        organization = customer.organization
        _default_card_follow(organization, data.default_payment_method)
        changed = {
            field: value
            for field, value in _stripe_details(data).items()
            if getattr(customer, field) != value
        }
        if changed:
            before = {field: getattr(customer, field) for field in changed}
            for field, value in changed.items():
                setattr(customer, field, value)
            customer.save(update_fields=[*changed, "updated_at"])
            audit_record(
                actor=Actor.system(),
                action="billing.details_updated",
                organization=organization,
                target=customer,
                target_label="Billing details",
                before=before,
                after=changed,
            )
    return customer


def _default_card_follow(organization: Organization, stripe_default: str) -> None:
    """The default card chosen in Stripe becomes ours (when we know the card)."""
    if not stripe_default:
        return
    methods = PaymentMethod.objects.filter(organization=organization, detached_at__isnull=True)
    target = methods.filter(stripe_id=stripe_default).first()
    if target is None or target.is_default:
        return
    previous = methods.filter(is_default=True).first()
    PaymentMethod.objects.filter(organization=organization, is_default=True).update(
        is_default=False
    )
    PaymentMethod.objects.filter(pk=target.pk).update(is_default=True)
    audit_record(
        actor=Actor.system(),
        action="billing.card_default_set",
        organization=organization,
        target=target,
        target_label=str(target),
        before={"default_card": str(previous) if previous else None},
        after={"default_card": str(target)},
    )


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
