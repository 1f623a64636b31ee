"""What Stripe (localstripe) says happened to one customer, read over HTTP by the test itself.

Deliberately independent of billing/stripe_gateway.py and billing/stripe_subscriptions.py (the
code under test): the invariants compare the dashboard against these raw reads.
"""

from dataclasses import dataclass

import requests
from django.conf import settings

LIVE = ("active", "trialing", "past_due")


def _get(path: str, params: dict | None = None) -> dict:
    response = requests.get(
        f"{settings.STRIPE_API_BASE}{path}",
        params=params or {},
        headers={"Authorization": f"Bearer {settings.STRIPE_SECRET_KEY}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return response.json()


def _all(path: str, params: dict) -> list[dict]:
    """Every item of a localstripe list (it has no page size cap; one big page)."""
    return _get(path, {**params, "limit": 10_000})["data"]


def _id(value: object) -> str:
    return value.get("id", "") if isinstance(value, dict) else str(value or "")


@dataclass(frozen=True)
class Capture:
    charge: str
    payment_intent: str
    amount: int
    refunded: int

    @property
    def net(self) -> int:
        return self.amount - self.refunded


def captures(customer: str) -> list[Capture]:
    """Succeeded, captured charges of the customer, with what was refunded of each."""
    found = []
    for charge in _all("/v1/charges", {"customer": customer}):
        if charge.get("status") != "succeeded" or not charge.get("captured", True):
            continue
        found.append(
            Capture(
                charge=charge["id"],
                payment_intent=_id(charge.get("payment_intent")),
                amount=int(charge["amount"]),
                refunded=int(charge.get("amount_refunded") or 0),
            )
        )
    return sorted(found, key=lambda c: c.charge)


def net_captured(customer: str) -> int:
    return sum(c.net for c in captures(customer))


def subscriptions(customer: str) -> list[dict]:
    return _all("/v1/subscriptions", {"customer": customer, "status": "all"})


def live_subscriptions(customer: str) -> list[dict]:
    return [s for s in subscriptions(customer) if s.get("status") in LIVE]


def subscription(subscription_id: str) -> dict:
    return _get(f"/v1/subscriptions/{subscription_id}")


def plan_and_quantity(data: dict) -> tuple[str, int]:
    item = data["items"]["data"][0]
    plan = item.get("plan") or item.get("price") or {}
    return _id(plan), int(item.get("quantity") or 0)


def invoices_by_payment_intent(customer: str) -> dict[str, str]:
    """PaymentIntent id -> the invoice it paid (subscription invoices)."""
    paid = {}
    for invoice in _all("/v1/invoices", {"customer": customer}):
        intent = _id(invoice.get("payment_intent"))
        if intent:
            paid[intent] = invoice["id"]
    return paid


def invoices(customer: str) -> list[dict]:
    return _all("/v1/invoices", {"customer": customer})


def events(customer: str, since: int) -> list[dict]:
    """The events Stripe would deliver about this customer's objects, oldest first."""
    mine = []
    for event in _all("/v1/events", {"created[gte]": since}):
        obj = (event.get("data") or {}).get("object") or {}
        if customer in (_id(obj.get("customer")), obj.get("id")):
            mine.append(event)
    return sorted(mine, key=lambda e: (e["created"], e["id"]))


def end_subscription_now(subscription_id: str) -> None:
    """Cancel in Stripe behind the dashboard's back (the Stripe dashboard's "Cancel now")."""
    response = requests.delete(
        f"{settings.STRIPE_API_BASE}/v1/subscriptions/{subscription_id}",
        headers={"Authorization": f"Bearer {settings.STRIPE_SECRET_KEY}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
