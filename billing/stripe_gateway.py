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
from django.core.cache import cache

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


# =================================================================================================
# Subscriptions (added for the subscriptions app): seat plans, subscriptions, proration previews.
#
# Dialect differences, all decided here by STRIPE_API_DIALECT:
# - items name their plan `price` in the current API and `plan` in localstripe (a Plan created
#   through /v1/plans is also a valid Price id in real Stripe, so one id serves both);
# - localstripe ignores `proration_behavior`/`payment_behavior` on updates (it answers 500),
#   never previews a proration correctly (it credits whole previous invoices) and never invoices
#   a quantity change. In that dialect the proration is computed by us, exactly as Stripe does it
#   (`prorate`, in stripe_subscription_data.py), charged with an off-session PaymentIntent on the
#   default card, and the bogus "Unused time" items localstripe leaves behind are deleted.
# - localstripe sends no customer.subscription.updated and no invoice.paid; the daily reconcile
#   (subscriptions.sync.reconcile) catches what webhooks do not bring.
# =================================================================================================


from .stripe_subscription_data import (  # noqa: E402, F401 - re-exported, as above
    ChangeResult,
    PlanData,
    ProrationLine,
    ProrationPreview,
    SubscriptionData,
    invoice_subscription_id,
    parse_plan,
    parse_proration_preview,
    parse_subscription,
    prorate,
)


def _localstripe() -> bool:
    return settings.STRIPE_API_DIALECT == "localstripe"


def _item_params(plan_id: str, quantity: int, item_id: str = "") -> dict:
    item: dict[str, Any] = {"quantity": quantity}
    item["plan" if _localstripe() else "price"] = plan_id
    if item_id:
        item["id"] = item_id
    return {"items": [item]}


def _missing(error: GatewayError) -> bool:
    return getattr(error.__cause__, "http_status", None) == 404


def plan_ensure(
    *, plan_id: str, amount: int, interval: str, product_name: str, metadata: dict
) -> tuple[PlanData, bool]:
    """Create the plan unless it exists (idempotent). Returns (plan, created). A plan's price is
    immutable in Stripe, so the id carries the amount: a new price is a new plan."""
    try:
        return parse_plan(_get(f"/v1/plans/{plan_id}")), False
    except GatewayError as error:
        if not _missing(error):
            raise
    params = {
        "id": plan_id,
        "amount": amount,
        "currency": settings.BILLING_CURRENCY,
        "interval": interval,
        "product": {"name": product_name},
        "nickname": f"{product_name} ({interval}ly)",
        "metadata": metadata,
    }
    return parse_plan(_post("/v1/plans", params, idempotency_key=f"plan-{plan_id}")), True


def subscription_create(
    *, customer_id: str, plan_id: str, quantity: int, metadata: dict, idempotency_key: str
) -> SubscriptionData:
    """Start a subscription paid with the customer's default card (first invoice charged now)."""
    params = {"customer": customer_id, "metadata": metadata, **_item_params(plan_id, quantity)}
    params["payment_behavior"] = "allow_incomplete"
    return parse_subscription(_post("/v1/subscriptions", params, idempotency_key=idempotency_key))


def subscription_retrieve(subscription_id: str) -> SubscriptionData:
    return parse_subscription(_get(f"/v1/subscriptions/{subscription_id}"))


def subscriptions_for_customer(customer_id: str) -> list[SubscriptionData]:
    data = _get("/v1/subscriptions", {"customer": customer_id, "status": "all", "limit": 100})
    return [parse_subscription(item) for item in data.get("data", [])]


def subscription_set_cancel_at_period_end(subscription_id: str, cancel: bool) -> SubscriptionData:
    return parse_subscription(
        _post(f"/v1/subscriptions/{subscription_id}", {"cancel_at_period_end": cancel})
    )


def subscription_cancel_now(subscription_id: str) -> SubscriptionData:
    return parse_subscription(_call("delete", f"/v1/subscriptions/{subscription_id}"))


def _drop_localstripe_unused_time(sub: SubscriptionData) -> None:
    """localstripe credits whole previous invoices on every item change; undo that."""
    pending = _get("/v1/invoiceitems", {"customer": sub.customer, "limit": 100}).get("data", [])
    for item in pending:
        pending_only = not item.get("invoice")  # one already on an invoice is the invoice's
        if (
            pending_only
            and _id(item.get("subscription")) == sub.id
            and item.get("description") == "Unused time"
        ):
            _call("delete", f"/v1/invoiceitems/{item['id']}")


def subscription_proration_preview(
    sub: SubscriptionData,
    *,
    plan_id: str,
    unit_amount: int,
    quantity: int,
    proration_date: int,
    labels: tuple[str, str] = ("", ""),
) -> ProrationPreview:
    """What changing to (plan, quantity) at `proration_date` costs at once."""
    if _localstripe():
        lines = prorate(
            period_start=sub.current_period_start or proration_date,
            period_end=sub.current_period_end or proration_date,
            proration_date=proration_date,
            old_total=sub.unit_amount * sub.quantity,
            new_total=unit_amount * quantity,
            old_label=f"{sub.quantity} × {labels[0] or sub.plan_id}",
            new_label=f"{quantity} × {labels[1] or plan_id}",
        )
        return ProrationPreview(proration_date, lines, computed_locally=True)
    params = {
        "customer": sub.customer,
        "subscription": sub.id,
        "subscription_details": {
            **_item_params(plan_id, quantity, sub.item_id),
            "proration_date": proration_date,
            "proration_behavior": "always_invoice",
        },
    }
    return parse_proration_preview(_post("/v1/invoices/create_preview", params), proration_date)


def subscription_change_now(
    sub: SubscriptionData,
    *,
    plan_id: str,
    unit_amount: int,
    quantity: int,
    proration_date: int,
    payment_method_id: str,
    idempotency_key: str,
    labels: tuple[str, str] = ("", ""),
) -> ChangeResult:
    """Change plan/quantity at once; the proration is invoiced and charged at once."""
    if not _localstripe():
        params = {
            **_item_params(plan_id, quantity, sub.item_id),
            "proration_behavior": "always_invoice",
            "proration_date": proration_date,
            # A failed or unauthenticated payment leaves the subscription unchanged.
            "payment_behavior": "pending_if_incomplete",
            "expand": ["latest_invoice.payment_intent"],
        }
        data = _post(f"/v1/subscriptions/{sub.id}", params, idempotency_key=idempotency_key)
        invoice = data.get("latest_invoice") or {}
        intent = (invoice.get("payment_intent") if isinstance(invoice, dict) else None) or {}
        status = {"succeeded": "paid", "requires_action": "requires_action"}.get(
            intent.get("status", ""), "nothing_due" if not intent else "failed"
        )
        if data.get("pending_update") and status == "paid":
            status = "failed"
        return ChangeResult(
            subscription=parse_subscription(data),
            amount=int(invoice.get("amount_due") or 0) if isinstance(invoice, dict) else 0,
            reference=_id(invoice),
            status=status,
            client_secret=intent.get("client_secret") or "",
            failure_message=(intent.get("last_payment_error") or {}).get("message") or "",
            payment_intent=intent.get("id") or "",
        )
    preview = subscription_proration_preview(
        sub,
        plan_id=plan_id,
        unit_amount=unit_amount,
        quantity=quantity,
        proration_date=proration_date,
        labels=labels,
    )
    reference, status = "", "nothing_due"
    # localstripe ignores idempotency keys: remember which PaymentIntent a key made, so that
    # repeating the call (the resume task) finds the same payment instead of charging again.
    remembered = cache.get(f"localstripe-idempotency:{idempotency_key}")
    if remembered or preview.amount > 0:
        intent = (
            payment_intent_retrieve(remembered)
            if remembered
            else payment_intent_create(
                amount_cents=preview.amount,
                customer_id=sub.customer,
                payment_method_id=payment_method_id,
                metadata={"subscription": sub.id, "kind": "proration"},
                idempotency_key=f"{idempotency_key}-charge",
                off_session=True,
            )
        )
        cache.set(f"localstripe-idempotency:{idempotency_key}", intent.id, 24 * 3600)
        preview = ProrationPreview(proration_date, (ProrationLine("", intent.amount),), True)
        reference = intent.id
        if intent.status != "succeeded":
            status = "requires_action" if intent.status == "requires_action" else "failed"
            return ChangeResult(
                sub,
                preview.amount,
                reference,
                status,
                intent.client_secret,
                intent.failure_message,
                payment_intent=intent.id,
            )
        status = "paid"
    updated = subscription_change_at_renewal(
        sub, plan_id=plan_id, quantity=quantity, idempotency_key=idempotency_key
    )
    return ChangeResult(updated, preview.amount, reference, status, payment_intent=reference)


def subscription_change_at_renewal(
    sub: SubscriptionData, *, plan_id: str, quantity: int, idempotency_key: str
) -> SubscriptionData:
    """Change plan/quantity without proration: applied at the renewal, billed from then on."""
    params = _item_params(plan_id, quantity, sub.item_id)
    params["prorate" if _localstripe() else "proration_behavior"] = (
        False if _localstripe() else "none"
    )
    if _localstripe() and parse_plan(_get(f"/v1/plans/{plan_id}")).interval != sub.interval:
        _offset_localstripe_unused_time(sub)
    data = parse_subscription(
        _post(f"/v1/subscriptions/{sub.id}", params, idempotency_key=idempotency_key)
    )
    if _localstripe():
        _drop_localstripe_unused_time(data)
    return data


def _offset_localstripe_unused_time(sub: SubscriptionData) -> None:
    """Before an interval change in localstripe. Like Stripe, it invoices the new interval at
    once, but within the same request it also credits every earlier invoice of the subscription
    as "Unused time" (deleting those afterwards comes too late: they are on the invoice). A
    pending item of the same total, added first, cancels them out on that invoice."""
    earlier = _get("/v1/invoices", {"customer": sub.customer, "subscription": sub.id, "limit": 99})
    credited = sum(int(invoice.get("subtotal") or 0) for invoice in earlier.get("data", []))
    if credited:
        params = {
            "customer": sub.customer,
            "subscription": sub.id,
            "amount": credited,
            "currency": settings.BILLING_CURRENCY,
            "description": "Reverses the test server's unused-time credit",
        }
        _post("/v1/invoiceitems", params)


def invoice_payment_intent(invoice_id: str) -> PaymentIntentData | None:
    """The PaymentIntent paying an invoice: `payment_intent` (older API, localstripe) or the
    first of `payments` (current API)."""
    if not invoice_id:
        return None
    invoice = _get(
        f"/v1/invoices/{invoice_id}", {"expand": ["payments"]} if not _localstripe() else None
    )
    intent_id = _id(invoice.get("payment_intent"))
    for payment in (invoice.get("payments") or {}).get("data", []):
        intent_id = intent_id or _id((payment.get("payment") or {}).get("payment_intent"))
    return payment_intent_retrieve(intent_id) if intent_id else None


def invoice_subscription(invoice_id: str) -> str:
    """The id of the subscription an invoice bills ("" for one-off invoices)."""
    return invoice_subscription_id(_get(f"/v1/invoices/{invoice_id}"))


def subscription_change_after_authentication(
    sub: SubscriptionData,
    *,
    plan_id: str,
    quantity: int,
    payment_intent_id: str,
    idempotency_key: str,
) -> ChangeResult:
    """Finish a change whose payment needed authentication, once the card holder confirmed it.

    Stripe applies a `pending_if_incomplete` update by itself when its invoice is paid; in
    localstripe the proration was a PaymentIntent of ours, so the change is made here."""
    intent = payment_intent_retrieve(payment_intent_id)
    status = {"succeeded": "paid", "requires_action": "requires_action"}.get(
        intent.status, "failed"
    )
    if status != "paid":
        return ChangeResult(
            sub, intent.amount, intent.id, status, intent.client_secret, intent.failure_message
        )
    if _localstripe():
        updated = subscription_change_at_renewal(
            sub, plan_id=plan_id, quantity=quantity, idempotency_key=idempotency_key
        )
    else:
        updated = subscription_retrieve(sub.id)
    return ChangeResult(updated, intent.amount, intent.id, "paid")


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
