"""Plain data for Stripe objects, and the parsers that read both API dialects into it.

No `stripe` import here: billing.stripe_gateway (the only importer) re-exports these names, so
callers keep using `stripe_gateway.parse_invoice` and friends. The parsers accept localstripe's
older shapes and the current API's (tested against Stripe's official fixtures).
"""

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class CustomerData:
    id: str
    email: str
    default_payment_method: str
    metadata: dict = field(default_factory=dict)
    name: str = ""
    # Stripe's address keys (line1, line2, city, postal_code, state, country), set ones only.
    address: dict = field(default_factory=dict)


@dataclass(frozen=True)
class CardData:
    id: str
    customer: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int


@dataclass(frozen=True)
class SetupIntentData:
    id: str
    customer: str
    status: str
    payment_method: str
    client_secret: str


@dataclass(frozen=True)
class PaymentIntentData:
    id: str
    status: str
    amount: int
    currency: str
    customer: str
    payment_method: str
    latest_charge: str
    client_secret: str
    failure_code: str
    failure_message: str
    metadata: dict = field(default_factory=dict)


@dataclass(frozen=True)
class RefundData:
    id: str
    charge: str
    amount: int
    status: str


@dataclass(frozen=True)
class ChargeData:
    id: str
    payment_intent: str
    customer: str
    amount: int
    amount_refunded: int


@dataclass(frozen=True)
class InvoiceData:
    id: str
    customer: str
    number: str
    status: str
    amount_due: int
    amount_paid: int
    currency: str
    period_start: int | None
    period_end: int | None
    hosted_invoice_url: str
    created: int | None


def _id(value: Any) -> str:
    """An id field may be a string, an expanded object, or null, depending on the dialect."""
    if isinstance(value, dict):
        return str(value.get("id") or "")
    return str(value or "")


ADDRESS_KEYS = ("line1", "line2", "city", "postal_code", "state", "country")


def parse_customer(d: dict) -> CustomerData:
    invoice_settings = d.get("invoice_settings") or {}
    return CustomerData(
        id=d["id"],
        email=d.get("email") or "",
        default_payment_method=_id(invoice_settings.get("default_payment_method")),
        metadata=dict(d.get("metadata") or {}),
        name=d.get("name") or "",
        address={
            key: str(value)
            for key, value in (d.get("address") or {}).items()
            if key in ADDRESS_KEYS and value
        },
    )


def parse_card(d: dict) -> CardData:
    card = d.get("card") or {}
    return CardData(
        id=d["id"],
        customer=_id(d.get("customer")),
        brand=str(card.get("display_brand") or card.get("brand") or "card"),
        last4=str(card.get("last4") or ""),
        exp_month=int(card.get("exp_month") or 0),
        exp_year=int(card.get("exp_year") or 0),
    )


def parse_setup_intent(d: dict) -> SetupIntentData:
    return SetupIntentData(
        id=d["id"],
        customer=_id(d.get("customer")),
        status=d.get("status") or "",
        payment_method=_id(d.get("payment_method")),
        client_secret=d.get("client_secret") or "",
    )


def parse_payment_intent(d: dict) -> PaymentIntentData:
    error = d.get("last_payment_error") or {}
    return PaymentIntentData(
        id=d["id"],
        status=d.get("status") or "",
        amount=int(d.get("amount") or 0),
        currency=d.get("currency") or "usd",
        customer=_id(d.get("customer")),
        payment_method=_id(d.get("payment_method")),
        latest_charge=_id(d.get("latest_charge")),
        client_secret=d.get("client_secret") or "",
        failure_code=str(error.get("decline_code") or error.get("code") or ""),
        failure_message=str(error.get("message") or ""),
        metadata=dict(d.get("metadata") or {}),
    )


def parse_charge(d: dict) -> ChargeData:
    return ChargeData(
        id=d["id"],
        payment_intent=_id(d.get("payment_intent")),
        customer=_id(d.get("customer")),
        amount=int(d.get("amount") or 0),
        amount_refunded=int(d.get("amount_refunded") or 0),
    )


def parse_refund(d: dict) -> RefundData:
    return RefundData(
        id=d["id"],
        charge=_id(d.get("charge")),
        amount=int(d.get("amount") or 0),
        status=d.get("status") or "",
    )


def parse_invoice(d: dict) -> InvoiceData:
    # Current API: the period lives on the invoice; older dialects may only have it on lines.
    period_start, period_end = d.get("period_start"), d.get("period_end")
    return InvoiceData(
        id=d["id"],
        customer=_id(d.get("customer")),
        number=d.get("number") or "",
        status=d.get("status") or "",
        amount_due=int(d.get("amount_due") or 0),
        amount_paid=int(d.get("amount_paid") or 0),
        currency=d.get("currency") or "usd",
        period_start=int(period_start) if period_start else None,
        period_end=int(period_end) if period_end else None,
        hosted_invoice_url=d.get("hosted_invoice_url") or "",
        created=int(d["created"]) if d.get("created") else None,
    )
