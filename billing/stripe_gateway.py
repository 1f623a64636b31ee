"""The only module that imports `stripe`.

Everything else in the project calls these functions and gets plain frozen dataclasses back, so
that no Stripe object (or its API version's shape) leaks out of here. Two dialects are spoken,
chosen by the one setting STRIPE_API_DIALECT:

- "stripe": the real, current API (pinned by STRIPE_API_VERSION);
- "localstripe": the older dialect of the local fake used by the demo and the tests.

The parsers below accept both shapes (e.g. `latest_charge` as an id or as an expanded object),
and are tested against Stripe's official fixtures as well as against localstripe.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import stripe
from django.conf import settings

from .stripe_data import (  # noqa: F401 - re-exported: callers use stripe_gateway.<name>
    CardData,
    ChargeData,
    CustomerData,
    InvoiceData,
    PaymentIntentData,
    RefundData,
    SetupIntentData,
    _id,
    parse_card,
    parse_charge,
    parse_customer,
    parse_invoice,
    parse_payment_intent,
    parse_refund,
    parse_setup_intent,
)


class GatewayError(Exception):
    """Stripe could not be reached or refused the request. `message` is safe to show."""

    def __init__(self, message: str, *, code: str = "", transient: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.transient = transient


class CardDeclined(GatewayError):
    """The card was declined; `message` is Stripe's reason."""


@contextmanager
def stripe_errors(error_class: type[Exception]) -> Iterator[None]:
    """Stripe's refusal (a declined card, a bad tax id...) becomes the caller's `error_class`
    carrying Stripe's own message, which views show to the user."""
    try:
        yield
    except GatewayError as error:
        raise error_class(error.message) from error


class InvalidWebhook(Exception):
    """Bad signature, stale timestamp or a body that is not a Stripe event."""


# --- the client ---------------------------------------------------------------------------------


def _client() -> stripe.StripeClient:
    return stripe.StripeClient(
        settings.STRIPE_SECRET_KEY,
        stripe_version=settings.STRIPE_API_VERSION,
        base_addresses={"api": settings.STRIPE_API_BASE},
        max_network_retries=2,
        http_client=stripe.RequestsClient(timeout=settings.STRIPE_TIMEOUT_SECONDS)
        if _has_requests()
        else None,
    )


def _has_requests() -> bool:
    try:
        import requests  # noqa: F401
    except ImportError:  # pragma: no cover - requests ships with the test and demo deps
        return False
    return True


def _plain(obj: Any) -> dict:
    """A StripeObject as plain JSON data."""
    if hasattr(obj, "to_dict"):
        return obj.to_dict()
    return json.loads(obj.body)  # a raw StripeResponse


def _call(method: str, path: str, params: dict | None = None, idempotency_key: str = "") -> dict:
    request = dict(params or {})
    if idempotency_key:
        request["idempotency_key"] = idempotency_key
    try:
        return _plain(_client().raw_request(method, path, **request))
    except stripe.CardError as error:
        raise CardDeclined(
            error.user_message or "Your card was declined.", code=error.code or "card_declined"
        ) from error
    except (stripe.APIConnectionError, stripe.RateLimitError) as error:
        raise GatewayError(
            "Stripe could not be reached; try again in a minute.", transient=True
        ) from error
    except stripe.StripeError as error:
        status = getattr(error, "http_status", None) or 500
        message = error.user_message or "Stripe refused the request."
        if status == 402:
            raise CardDeclined(message, code=error.code or "card_declined") from error
        raise GatewayError(message, code=error.code or "", transient=status >= 500) from error


def _get(path: str, params: dict | None = None) -> dict:
    return _call("get", path, params)


def _delete(path: str) -> dict:
    return _call("delete", path)


def _post(path: str, params: dict | None = None, *, idempotency_key: str = "") -> dict:
    return _call("post", path, params, idempotency_key)


# Customers


def customer_create(*, name: str, email: str, org_ref: str, idempotency_key: str) -> CustomerData:
    params = {"name": name, "metadata": {"organization": org_ref}}
    if email:
        params["email"] = email
    return parse_customer(_post("/v1/customers", params, idempotency_key=idempotency_key))


def customer_retrieve(customer_id: str) -> CustomerData:
    return parse_customer(_get(f"/v1/customers/{customer_id}"))


def customer_update(customer_id: str, *, email: str, name: str, address: dict, tax_id: str) -> None:
    # The tax id travels in metadata: localstripe only knows four tax-id types, and invoices
    # here are our own documents, which print it from our mirror.
    params: dict[str, Any] = {"name": name, "metadata": {"tax_id": tax_id}}
    if email:
        params["email"] = email
    clean = {k: v for k, v in address.items() if v}
    if clean:
        params["address"] = clean
    _post(f"/v1/customers/{customer_id}", params)


def customer_set_default_payment_method(customer_id: str, payment_method_id: str) -> None:
    _post(
        f"/v1/customers/{customer_id}",
        {"invoice_settings": {"default_payment_method": payment_method_id}},
    )


# Cards


def setup_intent_create(*, customer_id: str, idempotency_key: str) -> SetupIntentData:
    params = {"customer": customer_id, "payment_method_types": ["card"], "usage": "off_session"}
    return parse_setup_intent(_post("/v1/setup_intents", params, idempotency_key=idempotency_key))


def setup_intent_retrieve(setup_intent_id: str) -> SetupIntentData:
    return parse_setup_intent(_get(f"/v1/setup_intents/{setup_intent_id}"))


def setup_intent_confirm(setup_intent_id: str, payment_method_id: str) -> SetupIntentData:
    """Server-side confirmation with a saved or test PaymentMethod (the demo uses pm_card_visa,
    which real Stripe's test mode accepts too); cards typed by people go through Stripe.js."""
    return parse_setup_intent(
        _post(f"/v1/setup_intents/{setup_intent_id}/confirm", {"payment_method": payment_method_id})
    )


def payment_method_retrieve(payment_method_id: str) -> CardData:
    return parse_card(_get(f"/v1/payment_methods/{payment_method_id}"))


def payment_method_attach(payment_method_id: str, customer_id: str) -> CardData:
    return parse_card(
        _post(f"/v1/payment_methods/{payment_method_id}/attach", {"customer": customer_id})
    )


def payment_method_detach(payment_method_id: str) -> None:
    _post(f"/v1/payment_methods/{payment_method_id}/detach")


def payment_methods_list(customer_id: str) -> list[CardData]:
    data = _get("/v1/payment_methods", {"customer": customer_id, "type": "card", "limit": 100})
    return [parse_card(item) for item in data.get("data", [])]


# Payments


def payment_intent_params(
    *, amount_cents: int, customer_id: str, payment_method_id: str, metadata: dict, dialect: str
) -> dict:
    """The create parameters. The dialects differ here: the current API wants automatic payment
    methods turned to "no redirects" for a saved card; localstripe knows only the older
    `payment_method_types`."""
    params: dict[str, Any] = {
        "amount": amount_cents,
        "currency": settings.BILLING_CURRENCY,
        "customer": customer_id,
        "payment_method": payment_method_id,
        "metadata": metadata,
    }
    if dialect == "stripe":
        params["automatic_payment_methods"] = {"enabled": True, "allow_redirects": "never"}
    else:
        params["payment_method_types"] = ["card"]
    return params


def payment_intent_create(
    *,
    amount_cents: int,
    customer_id: str,
    payment_method_id: str,
    metadata: dict,
    idempotency_key: str,
    off_session: bool = False,
) -> PaymentIntentData:
    params = payment_intent_params(
        amount_cents=amount_cents,
        customer_id=customer_id,
        payment_method_id=payment_method_id,
        metadata=metadata,
        dialect=settings.STRIPE_API_DIALECT,
    )
    if off_session:
        params.update({"confirm": True, "off_session": True})
    return parse_payment_intent(
        _post("/v1/payment_intents", params, idempotency_key=idempotency_key)
    )


def payment_intent_confirm(payment_intent_id: str) -> PaymentIntentData:
    return parse_payment_intent(_post(f"/v1/payment_intents/{payment_intent_id}/confirm"))


def payment_intent_retrieve(payment_intent_id: str) -> PaymentIntentData:
    return parse_payment_intent(_get(f"/v1/payment_intents/{payment_intent_id}"))


def payment_intents_for_customer(customer_id: str) -> list[PaymentIntentData]:
    """Every PaymentIntent of a customer, newest first (all pages). The charge engine finds what
    it was paid for an intent here, by the intent's metadata, rather than trusting a local note."""
    found: list[PaymentIntentData] = []
    params: dict[str, Any] = {"customer": customer_id, "limit": 100}
    while True:
        page = _get("/v1/payment_intents", params)
        found.extend(parse_payment_intent(item) for item in page.get("data", []))
        if not page.get("has_more") or not page.get("data"):
            return found
        params["starting_after"] = page["data"][-1]["id"]


def payment_intent_cancel(payment_intent_id: str) -> PaymentIntentData:
    return parse_payment_intent(_post(f"/v1/payment_intents/{payment_intent_id}/cancel"))


def charge_retrieve(charge_id: str) -> ChargeData:
    return parse_charge(_get(f"/v1/charges/{charge_id}"))


def refunds_for_charge(charge_id: str) -> list[RefundData]:
    data = _get("/v1/refunds", {"charge": charge_id, "limit": 100})
    return [parse_refund(item) for item in data.get("data", [])]


def refund_create(*, payment_intent_id: str, amount_cents: int, idempotency_key: str) -> RefundData:
    params = {"payment_intent": payment_intent_id, "amount": amount_cents}
    return parse_refund(_post("/v1/refunds", params, idempotency_key=idempotency_key))


# Invoices


def invoice_retrieve(invoice_id: str) -> InvoiceData:
    return parse_invoice(_get(f"/v1/invoices/{invoice_id}"))


def invoices_list(customer_id: str) -> list[InvoiceData]:
    data = _get("/v1/invoices", {"customer": customer_id, "limit": 100})
    return [parse_invoice(item) for item in data.get("data", [])]


# Webhooks


def verify_webhook(payload: bytes, signature_header: str) -> dict:
    """Check the Stripe-Signature header over the raw body, then parse it. Raises InvalidWebhook."""
    try:
        stripe.WebhookSignature.verify_header(
            payload,
            signature_header,
            settings.STRIPE_WEBHOOK_SECRET,
            tolerance=settings.STRIPE_WEBHOOK_TOLERANCE_SECONDS,
        )
    except (stripe.SignatureVerificationError, UnicodeDecodeError) as error:
        raise InvalidWebhook(str(error)) from error
    # verify_header refuses only timestamps too far in the past; one far in the future (a
    # signature minted ahead to be replayed later) is refused here, with the same tolerance.
    signed_at = next(int(part[2:]) for part in signature_header.split(",") if part[:2] == "t=")
    if signed_at > time.time() + settings.STRIPE_WEBHOOK_TOLERANCE_SECONDS:
        raise InvalidWebhook("Timestamp is in the future beyond the tolerance.")
    try:
        event = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidWebhook("The body is not JSON.") from error
    if not isinstance(event, dict) or not isinstance(event.get("id"), str):
        raise InvalidWebhook("The body is not a Stripe event.")
    if not isinstance(event.get("type"), str) or not isinstance(event.get("data"), dict):
        raise InvalidWebhook("The body is not a Stripe event.")
    return event


def events_list(*, created_after: int, types: list[str] | None = None) -> list[dict]:
    """Events created after a Unix time, oldest first (for reconciling missed webhooks)."""
    events: list[dict] = []
    params: dict[str, Any] = {"created": {"gt": created_after}, "limit": 100}
    for event_type in types or [None]:
        cursor = ""
        while True:
            page_params = dict(params)
            if event_type:
                page_params["type"] = event_type
            if cursor:
                page_params["starting_after"] = cursor
            page = _get("/v1/events", page_params)
            data = page.get("data", [])
            events.extend(data)
            if not page.get("has_more") or not data:
                break
            cursor = data[-1]["id"]
    events.sort(key=lambda e: (e.get("created") or 0, e["id"]))
    return events


# Refund intents (billing/refunds.py). The intent's id travels in the refund's metadata, so a
# refund Stripe made before we could record its answer is found again by listing, even after
# Stripe's idempotency keys (kept 24 hours) have expired.


def _intent_refund(data: dict) -> tuple[RefundData, str]:
    return parse_refund(data), str((data.get("metadata") or {}).get("refund_intent") or "")


def refund_create_for_intent(
    *, payment_intent_id: str, amount_cents: int, intent_ref: str, idempotency_key: str
) -> tuple[RefundData, str]:
    """Create the refund of one refund intent; returns (refund, intent ref)."""
    params = {
        "payment_intent": payment_intent_id,
        "amount": amount_cents,
        "metadata": {"refund_intent": intent_ref},
    }
    return _intent_refund(_post("/v1/refunds", params, idempotency_key=idempotency_key))


def refunds_for_payment_intent(payment_intent_id: str) -> list[tuple[RefundData, str]]:
    """Every refund of the payment, each with the refund intent it was made for ("" if none)."""
    data = _get("/v1/refunds", {"payment_intent": payment_intent_id, "limit": 100})
    return [_intent_refund(item) for item in data.get("data", [])]
