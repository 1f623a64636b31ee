"""Who may use each Subscriptions URL. Owners change the plan and cancel; admins add seats;
members see the plan summary only (the tab); outsiders get 404.

ACCESS holds the codes with a running subscription (tests/subscriptions/test_access.py proves
them). MATRIX holds the codes in tests/test_access_matrix.py's world, which has no subscription:
the pages that need one send an allowed caller back to the tab (302).
"""

from types import SimpleNamespace

GET = "GET"
POST = "POST"

ACCESS: dict[str, dict] = {
    "subscriptions_tab": {
        "method": GET,
        "owner": 200,
        "admin": 200,
        "member": 200,
        "outsider": 404,
    },
    "subscriptions_start": {
        "method": POST,
        "owner": 302,
        "admin": 403,
        "member": 403,
        "outsider": 404,
    },
    "subscriptions_seats_preview": {
        "method": GET,
        "owner": 200,
        "admin": 200,
        "member": 403,
        "outsider": 404,
    },
    "subscriptions_authenticate": {
        "method": GET,
        "owner": 302,  # the stand-in payment is unknown to Stripe: back to the tab, with why
        "admin": 302,
        "member": 403,
        "outsider": 404,
    },
    "subscriptions_authenticate_complete": {
        "method": POST,
        "owner": 302,
        "admin": 302,
        "member": 403,
        "outsider": 404,
    },
    "subscriptions_seats_add": {
        "method": POST,
        "owner": 302,
        "admin": 302,
        "member": 403,
        "outsider": 404,
    },
    "subscriptions_seats_remove": {
        "method": POST,
        "owner": 302,
        "admin": 403,
        "member": 403,
        "outsider": 404,
    },
    "subscriptions_interval": {
        "method": POST,
        "owner": 302,
        "admin": 403,
        "member": 403,
        "outsider": 404,
    },
    "subscriptions_interval_preview": {
        "method": GET,
        "owner": 200,
        "admin": 403,
        "member": 403,
        "outsider": 404,
    },
    "subscriptions_plan_preview": {
        "method": GET,
        "owner": 200,
        "admin": 403,
        "member": 403,
        "outsider": 404,
    },
    "subscriptions_plan_change": {
        "method": POST,
        "owner": 302,
        "admin": 403,
        "member": 403,
        "outsider": 404,
    },
    "subscriptions_cancel_confirm": {
        "method": GET,
        "owner": 200,
        "admin": 403,
        "member": 403,
        "outsider": 404,
    },
    "subscriptions_cancel": {
        "method": POST,
        "owner": 302,
        "admin": 403,
        "member": 403,
        "outsider": 404,
    },
    "subscriptions_cancel_undo": {
        "method": POST,
        "owner": 302,
        "admin": 403,
        "member": 403,
        "outsider": 404,
    },
}

# Without a subscription, the preview and confirmation pages redirect an allowed caller.
MATRIX_OVERRIDES = {
    "subscriptions_seats_preview": {"owner": 302, "admin": 302},
    "subscriptions_plan_preview": {"owner": 302},
    "subscriptions_interval_preview": {"owner": 302},
    "subscriptions_cancel_confirm": {"owner": 302},
}

# Query strings (GET) or form data (POST) a successful call needs.
DATA = {
    "subscriptions_start": lambda w: {"plan": "teams", "interval": "month", "seats": "5"},
    "subscriptions_seats_preview": lambda w: {"seats": "2"},
    "subscriptions_seats_add": lambda w: {"seats": "1"},  # no preview: refused, redirected
    "subscriptions_seats_remove": lambda w: {"seats": "8"},
    "subscriptions_interval": lambda w: {"interval": "year"},
    "subscriptions_interval_preview": lambda w: {"interval": "year"},
    "subscriptions_plan_preview": lambda w: {"plan": "enterprise"},
    "subscriptions_plan_change": lambda w: {"plan": "enterprise"},
    "subscriptions_cancel": lambda w: {"confirm_name": w.org.name},
}

# The audit action a successful owner POST records, with a running subscription.
RECORDS = {
    "subscriptions_seats_remove": "subscription.seats_removal_scheduled",
    "subscriptions_interval": "subscription.interval_change_scheduled",
    "subscriptions_plan_change": "subscription.upgraded",
    "subscriptions_cancel": "subscription.cancel_scheduled",
}


def _pending(org):  # noqa: ANN001, ANN202
    """A payment awaiting authentication, in the persona's organization (a stand-in)."""
    from django.utils import timezone

    from subscriptions.models import ChangeIntent, Subscription

    sub = Subscription.objects.filter(organization=org).first()
    if sub is None:
        sub = Subscription.objects.create(
            organization=org,
            stripe_id=f"sub_matrix_{org.slug}",
            plan="teams",
            interval="month",
            quantity=org.seat_count,
            status="active",
            current_period_start=timezone.now(),
            current_period_end=timezone.now(),
        )
    pending, _ = ChangeIntent.objects.get_or_create(
        request_key=f"matrix-{org.slug}",
        defaults={
            "organization": org,
            "subscription": sub,
            "kind": "seats_added",
            "state": "requires_action",
            "add_seats": 1,
            "from_quantity": sub.quantity,
            "to_quantity": sub.quantity + 1,
            "plan": "teams",
            "interval": "month",
            "amount_cents": 1500,
            "payment_intent_id": f"pi_matrix_{org.slug}",
        },
    )
    return pending


PATH_PARAMS = {"pending_id": lambda w: _pending(w.org).public_id}


def data_for(name: str, world: SimpleNamespace) -> dict:
    return DATA.get(name, lambda w: {})(world)


def matrix_specs(spec_cls, row_cls) -> dict:  # noqa: ANN001
    """The rows in tests/test_access_matrix.py's own format (a world without subscription)."""
    specs = {}
    for name, row in ACCESS.items():
        codes = {p: row[p] for p in ("owner", "admin", "member")}
        codes.update(MATRIX_OVERRIDES.get(name, {}))
        key = "get" if row["method"] == GET else "post"
        specs[name] = spec_cls(**{key: row_cls(**codes)}, data=DATA.get(name, lambda w: {}))
    return specs
