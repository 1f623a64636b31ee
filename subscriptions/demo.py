"""Demo data: Acme subscribes to 10 monthly Teams seats and Globex to Enterprise seats, when
localstripe runs."""

import logging

from audit.services import Actor
from billing import stripe_gateway as gateway
from billing import stripe_subscriptions
from billing.services import default_card
from organizations.models import Organization, Plan

from . import intents
from .plans import ALL_PRICES, Interval
from .selectors import subscription_for

logger = logging.getLogger(__name__)


def plans_sync() -> None:
    for price in ALL_PRICES:
        stripe_subscriptions.plan_ensure(
            plan_id=price.stripe_id,
            amount=price.unit_amount,
            interval=price.interval,
            product_name=price.product_name,
            metadata={"kilo_plan": price.plan, "interval": price.interval},
        )


def seed_demo_subscription(
    organization: Organization,
    *,
    plan: str = Plan.TEAMS,
    seats: int = 10,
    actor: Actor | None = None,
) -> str:
    """Idempotent; needs the billing demo's default card. Returns what happened."""
    existing = subscription_for(organization)
    if existing is not None:
        return f"{organization.slug} already subscribed ({existing.quantity} seats)"
    if default_card(organization) is None:
        return "subscription skipped (no demo card: is localstripe running?)"
    try:
        plans_sync()
        sub = intents.subscription_start(
            actor=actor or Actor.system(),
            organization=organization,
            plan=plan,
            interval=Interval.MONTH,
            seats=seats,
            request_key="demo" if organization.slug == "acme" else f"demo-{organization.slug}",
        )
    except (gateway.GatewayError, intents.SubscriptionError) as error:
        message = getattr(error, "message", None) or str(error)
        logger.warning("Demo subscription skipped: %s", message)
        return f"subscription skipped ({message})"
    return f"{organization.slug}: {sub.quantity} seats of Kilo {plan.title()}, monthly"
