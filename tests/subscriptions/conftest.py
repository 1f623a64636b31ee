"""Subscription test helpers: plans in localstripe, a card, a running Teams subscription."""

from decimal import ROUND_HALF_UP, Decimal

import pytest
import requests
from django.conf import settings

from billing import stripe_subscriptions
from subscriptions import intents
from subscriptions.demo import plans_sync
from subscriptions.models import Subscription
from tests.billing.conftest import add_card
from tests.conftest import actor


@pytest.fixture(autouse=True)
def _eager_tasks():
    from kilo_dashboard.celery import app

    saved = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = saved


def subscribe(org, owner, seats: int = 10, plan: str = "teams", interval: str = "month"):  # noqa: ANN001, ANN201
    plans_sync()
    add_card(org, owner)
    return intents.subscription_start(
        actor=actor(owner), organization=org, plan=plan, interval=interval, seats=seats
    )


@pytest.fixture
def subscribed(org, owner, admin, member) -> Subscription:
    return subscribe(org, owner)


def stripe_prorated(
    *, old_total: int, new_total: int, period_start: int, period_end: int, at: int
) -> int:
    """Stripe's documented proration, written here from the formula (not from the code under
    test): a credit for the unused time of the old items and a charge for the remaining time of
    the new ones, each proportional to the seconds left in the period and rounded to the cent."""
    left = Decimal(period_end - at)
    length = Decimal(period_end - period_start)

    def rounded(total: int) -> int:
        return int((Decimal(total) * left / length).quantize(Decimal(1), ROUND_HALF_UP))

    return rounded(new_total) - rounded(old_total)


def in_stripe(sub: Subscription) -> stripe_subscriptions.SubscriptionData:
    return stripe_subscriptions.subscription_retrieve(sub.stripe_id)


def stripe_post(path: str, data: dict) -> dict:
    """Change something in localstripe behind the dashboard's back (as the Stripe dashboard would)."""
    response = requests.post(
        f"{settings.STRIPE_API_BASE}{path}",
        data=data,
        headers={"Authorization": f"Bearer {settings.STRIPE_SECRET_KEY}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return response.json()
