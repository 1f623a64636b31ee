"""Contract tests for the real-API branches of the gateway (STRIPE_API_DIALECT="stripe").

localstripe never sees these requests, so each one is checked against the stripe SDK's own typed
parameters for that API method (TypedDicts generated from Stripe's OpenAPI spec, e.g.
`stripe.params.SubscriptionUpdateParams`): every key, nested keys included, must be one the
method takes, with a value of an accepted type or literal; an unknown key fails. The answers are
built from Stripe's published example objects (tests/data/stripe/fixtures3.json) and parsed by
the same code that parses live answers. Only the HTTP exchange is replaced (real Stripe cannot
run here): `gateway._call`, the gateway's one way out.
"""

import copy
import importlib
import json
import re
import sys
import types
import typing
from pathlib import Path

import pytest
import stripe
import stripe.params

from billing import stripe_gateway as gateway
from billing import stripe_subscriptions

FIXTURES = Path(__file__).resolve().parents[1] / "data" / "stripe" / "fixtures3.json"

# (method, path pattern) -> the SDK's parameter type for that API method.
METHODS = {
    ("post", r"/v1/subscriptions"): stripe.params.SubscriptionCreateParams,
    ("post", r"/v1/subscriptions/[^/]+"): stripe.params.SubscriptionUpdateParams,
    ("get", r"/v1/subscriptions/[^/]+"): stripe.params.SubscriptionRetrieveParams,
    ("get", r"/v1/subscriptions"): stripe.params.SubscriptionListParams,
    ("post", r"/v1/invoices/create_preview"): stripe.params.InvoiceCreatePreviewParams,
    ("get", r"/v1/invoices/[^/]+"): stripe.params.InvoiceRetrieveParams,
    ("post", r"/v1/payment_intents"): stripe.params.PaymentIntentCreateParams,
    ("get", r"/v1/payment_intents/[^/]+"): stripe.params.PaymentIntentRetrieveParams,
    ("post", r"/v1/payment_intents/[^/]+/cancel"): stripe.params.PaymentIntentCancelParams,
    ("post", r"/v1/refunds"): stripe.params.RefundCreateParams,
}


def _namespace(typed: type) -> dict:
    request_options = importlib.import_module("stripe._request_options")
    return {
        **vars(typing),
        **vars(request_options),
        **vars(sys.modules[typed.__module__]),
        "StripeContext": typing.Any,  # a class the SDK only names for type checkers
    }


def _is_typed_dict(annotation: object) -> bool:
    return isinstance(annotation, type) and hasattr(annotation, "__required_keys__")


def check_params(value: object, annotation: object, where: str) -> None:
    """Fail unless `value` fits `annotation` (a TypedDict, list, literal or scalar type)."""
    if annotation is typing.Any:
        return
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        failures = []
        for option in typing.get_args(annotation):
            try:
                check_params(value, option, where)
                return
            except AssertionError as error:
                failures.append(str(error))
        raise AssertionError(f"{where}: {value!r} fits none of {annotation}: {failures}")
    if origin is typing.Literal:
        assert value in typing.get_args(annotation), f"{where}: {value!r} not in {annotation}"
        return
    if origin in (list, typing.List):  # noqa: UP006 - the SDK's own spelling
        assert isinstance(value, list), f"{where}: expected a list, got {value!r}"
        (item,) = typing.get_args(annotation)
        for n, element in enumerate(value):
            check_params(element, item, f"{where}[{n}]")
        return
    if origin in (dict, typing.Dict):  # noqa: UP006
        assert isinstance(value, dict), f"{where}: expected a mapping, got {value!r}"
        _, item = typing.get_args(annotation)
        for key, element in value.items():
            check_params(element, item, f"{where}.{key}")
        return
    if _is_typed_dict(annotation):
        assert isinstance(value, dict), f"{where}: expected an object, got {value!r}"
        hints = typing.get_type_hints(annotation, globalns=_namespace(annotation))
        unknown = set(value) - set(hints)
        assert not unknown, f"{where}: {annotation.__name__} has no {sorted(unknown)}"
        missing = set(annotation.__required_keys__) - set(value)
        assert not missing, f"{where}: {annotation.__name__} requires {sorted(missing)}"
        for key, element in value.items():
            check_params(element, hints[key], f"{where}.{key}")
        return
    if annotation is float:
        assert isinstance(value, int | float) and not isinstance(value, bool), where
        return
    if annotation in (int, str, bool):
        assert isinstance(value, annotation), f"{where}: {value!r} is not {annotation.__name__}"
        assert not (annotation is int and isinstance(value, bool)), where
        return
    if annotation is type(None):
        assert value is None, where
        return
    raise AssertionError(f"{where}: cannot check {annotation!r}")


def typed_params_for(method: str, path: str) -> type:
    for (verb, pattern), typed in METHODS.items():
        if verb == method and re.fullmatch(pattern, path):
            return typed
    raise AssertionError(f"no typed parameters known for {method.upper()} {path}")


@pytest.fixture(scope="module")
def resources() -> dict:
    return json.loads(FIXTURES.read_text())["resources"]


class FakeStripe:
    """Answers each request with a published example object; records and checks every request."""

    def __init__(self, answers: dict[tuple[str, str], dict]) -> None:
        self.answers = answers
        self.requests: list[tuple[str, str, dict]] = []

    def __call__(
        self, method: str, path: str, params: dict | None = None, idempotency_key: str = ""
    ) -> dict:
        params = dict(params or {})
        typed = typed_params_for(method, path)
        check_params(params, typed, f"{method.upper()} {path}")
        self.requests.append((method, path, params | {"idempotency_key": idempotency_key}))
        for (verb, pattern), answer in self.answers.items():
            if verb == method and re.fullmatch(pattern, path):
                return copy.deepcopy(answer)
        raise AssertionError(f"no answer for {method.upper()} {path}")


@pytest.fixture
def real_stripe(settings, monkeypatch):  # noqa: ANN001, ANN201
    settings.STRIPE_API_DIALECT = "stripe"

    def install(answers: dict) -> FakeStripe:
        fake = FakeStripe(answers)
        monkeypatch.setattr(gateway, "_call", fake)
        return fake

    return install


def _subscription(resources: dict, *, latest_invoice: object = None) -> dict:
    sub = copy.deepcopy(resources["subscription"])
    sub["pending_update"] = None
    sub["latest_invoice"] = latest_invoice if latest_invoice is not None else "in_1"
    return sub


def test_the_checker_refuses_unknown_and_mistyped_keys():
    with pytest.raises(AssertionError, match="has no"):
        check_params({"prorate": False}, stripe.params.SubscriptionUpdateParams, "update")
    with pytest.raises(AssertionError, match="fits none"):
        check_params({"proration_behavior": 1}, stripe.params.SubscriptionUpdateParams, "update")
    with pytest.raises(AssertionError, match=r"items\[0\]: SubscriptionUpdateParamsItem has no"):
        check_params(
            {"items": [{"prices": "p", "quantity": 2}]},
            stripe.params.SubscriptionUpdateParams,
            "update",
        )


def test_a_proration_preview_uses_create_preview_and_reads_its_lines(resources, real_stripe):
    proration = dict(resources["line_item"], amount=-7_500, description="Unused time")
    charge = dict(resources["line_item"], amount=9_000, description="Remaining time")
    renewal = dict(resources["line_item"], amount=18_000, parent=None, proration=False)
    proration["parent"] = charge["parent"] = {
        "type": "subscription_item_details",
        "subscription_item_details": {"proration": True, "subscription_item": "si_1"},
    }
    invoice = dict(resources["invoice"], lines={"data": [proration, charge, renewal]})
    fake = real_stripe({("post", r"/v1/invoices/create_preview"): invoice})
    sub = stripe_subscriptions.parse_subscription(_subscription(resources))

    preview = stripe_subscriptions.subscription_proration_preview(
        sub, plan_id="kilo-teams-month-1500", unit_amount=1500, quantity=12, proration_date=1_800
    )

    assert preview.amount == 1_500 and not preview.computed_locally
    ((_, _, params),) = fake.requests
    assert params["subscription_details"]["proration_behavior"] == "always_invoice"
    assert params["subscription_details"]["items"] == [
        {"quantity": 12, "price": "kilo-teams-month-1500", "id": sub.item_id}
    ]


@pytest.mark.parametrize(
    ("intent_status", "expected"),
    [
        ("succeeded", "paid"),
        ("requires_action", "requires_action"),
        ("requires_payment_method", "failed"),
    ],
)
def test_a_change_at_once_is_invoiced_and_charged_or_left_pending(
    resources, real_stripe, intent_status, expected
):
    intent = dict(resources["payment_intent"], status=intent_status, id="pi_contract")
    invoice = dict(resources["invoice"], id="in_contract", amount_due=2_000, payment_intent=intent)
    answer = _subscription(resources, latest_invoice=invoice)
    if intent_status != "succeeded":
        answer["pending_update"] = resources["subscription"]["pending_update"]
    fake = real_stripe({("post", r"/v1/subscriptions/[^/]+"): answer})
    sub = stripe_subscriptions.parse_subscription(_subscription(resources))

    result = stripe_subscriptions.subscription_change_now(
        sub,
        plan_id="kilo-enterprise-month-15000",
        unit_amount=150_00,
        quantity=5,
        proration_date=1_800_000_000,
        payment_method_id="pm_1",
        idempotency_key="change-intent-1",
    )

    assert (result.status, result.amount, result.reference) == (expected, 2_000, "in_contract")
    assert result.payment_intent == "pi_contract"
    ((_, _, params),) = fake.requests
    assert params["proration_behavior"] == "always_invoice"
    assert params["payment_behavior"] == "pending_if_incomplete"
    assert params["idempotency_key"] == "change-intent-1"


def test_a_subscription_start_and_its_first_payment(resources, real_stripe):
    intent = dict(resources["payment_intent"], status="requires_action", id="pi_first")
    invoice_payment = copy.deepcopy(resources["invoice_payment"])
    invoice_payment["payment"] = {"type": "payment_intent", "payment_intent": "pi_first"}
    invoice = dict(resources["invoice"], id="in_first", payments={"data": [invoice_payment]})
    fake = real_stripe(
        {
            ("post", r"/v1/subscriptions"): _subscription(resources, latest_invoice="in_first"),
            ("get", r"/v1/invoices/[^/]+"): invoice,
            ("get", r"/v1/payment_intents/[^/]+"): intent,
        }
    )

    data = stripe_subscriptions.subscription_create(
        customer_id="cus_1",
        plan_id="kilo-teams-month-1500",
        quantity=8,
        metadata={"organization": "acme", "change_intent": "uuid"},
        idempotency_key="change-intent-2",
    )
    payment = stripe_subscriptions.invoice_payment_intent(data.latest_invoice)

    assert data.latest_invoice == "in_first"
    assert (payment.id, payment.status) == ("pi_first", "requires_action")
    create = fake.requests[0][2]
    assert create["items"] == [{"quantity": 8, "price": "kilo-teams-month-1500"}]
    assert create["payment_behavior"] == "allow_incomplete"


def test_changes_at_renewal_reversal_and_expiry_speak_the_current_api(resources, real_stripe):
    refund = resources["refund"]
    fake = real_stripe(
        {
            ("post", r"/v1/subscriptions/[^/]+"): _subscription(resources),
            ("post", r"/v1/refunds"): refund,
            ("post", r"/v1/payment_intents/[^/]+/cancel"): resources["payment_intent"],
        }
    )
    sub = stripe_subscriptions.parse_subscription(_subscription(resources))

    stripe_subscriptions.subscription_change_at_renewal(
        sub, plan_id="kilo-teams-year-18000", quantity=3, idempotency_key="renewal-1"
    )
    gateway.refund_create(payment_intent_id="pi_1", amount_cents=2_000, idempotency_key="r-1")
    gateway.payment_intent_cancel("pi_1")

    assert fake.requests[0][2]["proration_behavior"] == "none"
    assert [path for _, path, _ in fake.requests] == [
        f"/v1/subscriptions/{sub.id}",
        "/v1/refunds",
        "/v1/payment_intents/pi_1/cancel",
    ]
