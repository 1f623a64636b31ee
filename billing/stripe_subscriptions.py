"""Stripe calls for seat subscriptions: plans, subscriptions, proration previews and changes.

Split from stripe_gateway (which holds the client, customers, cards, payments, invoices and
webhooks) and built on its `_get`/`_post`/`_delete`, so `stripe` is still imported only there.

Dialect differences, all decided here by STRIPE_API_DIALECT:
- items name their plan `price` in the current API and `plan` in localstripe (a Plan created
  through /v1/plans is also a valid Price id in real Stripe, so one id serves both);
- localstripe ignores `proration_behavior`/`payment_behavior` on updates (it answers 500),
  never previews a proration correctly (it credits whole previous invoices) and never invoices
  a quantity change. In that dialect the proration is computed by us, exactly as Stripe does it
  (`prorate`, in stripe_subscription_data.py), charged with an off-session PaymentIntent on the
  default card (its metadata names the change, so a retry finds it rather than charging again;
  scripts/localstripe_server.py also honours idempotency keys), and the bogus "Unused time" items localstripe leaves behind are deleted.
- localstripe sends no customer.subscription.updated and no invoice.paid; the daily reconcile
  (subscriptions.sync.reconcile) catches what webhooks do not bring.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from .stripe_data import PaymentIntentData, _id
from .stripe_gateway import (
    GatewayError,
    _delete,
    _get,
    _post,
    payment_intent_create,
    payment_intent_retrieve,
    payment_intents_for_customer,
)
from .stripe_subscription_data import (  # noqa: F401 - re-exported: callers use stripe_subscriptions.<name>
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
    return parse_subscription(_delete(f"/v1/subscriptions/{subscription_id}"))


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
            _delete(f"/v1/invoiceitems/{item['id']}")


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
    amount_cents: int | None = None,
    metadata: dict | None = None,
) -> ChangeResult:
    """Change plan/quantity at once; the proration is invoiced and charged at once.

    `metadata` names the change on what this creates (localstripe: the proration's
    PaymentIntent), so that a retry or a reversal finds it in Stripe."""
    metadata = metadata or {}
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
    # The proration is our own PaymentIntent here. Before charging, look in Stripe for the one a
    # crashed earlier attempt made for the same change (its metadata names the change); the
    # idempotency key guards the create as well. The amount is the one recorded with the change
    # (what was shown and confirmed), never recomputed from a subscription that may have
    # changed since.
    amount = preview.amount if amount_cents is None else amount_cents
    earlier = _payment_with_metadata(sub.customer, metadata) if metadata else None
    if earlier is not None or amount > 0:
        intent = earlier or payment_intent_create(
            amount_cents=amount,
            customer_id=sub.customer,
            payment_method_id=payment_method_id,
            metadata={"subscription": sub.id, "kind": "proration", **metadata},
            idempotency_key=f"{idempotency_key}-charge",
            off_session=True,
        )
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
    if (sub.plan_id, sub.quantity) == (plan_id, quantity):
        updated = sub  # made by an attempt that crashed before recording it: not again
    else:
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


def _payment_with_metadata(customer_id: str, metadata: dict) -> PaymentIntentData | None:
    """The customer's PaymentIntent whose metadata carries all of `metadata` (not canceled)."""
    for payment in payment_intents_for_customer(customer_id):
        if payment.status != "canceled" and all(
            payment.metadata.get(key) == value for key, value in metadata.items()
        ):
            return payment
    return None


def payments_with_metadata(customer_id: str, metadata: dict) -> list[PaymentIntentData]:
    """Every succeeded PaymentIntent of the customer whose metadata carries all of `metadata`."""
    return [
        payment
        for payment in payment_intents_for_customer(customer_id)
        if payment.status == "succeeded"
        and all(payment.metadata.get(key) == value for key, value in metadata.items())
    ]


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
