"""The seat plans we sell: Kilo Teams and Kilo Enterprise, monthly or yearly (12x monthly).

Prices live here, in code; `manage.py sync_stripe_plans` creates the matching Stripe plans. A
Stripe plan's price cannot change, so its id carries the amount: a new price is a new plan.
"""

from dataclasses import dataclass

from django.db import models

from organizations.models import Plan


class Interval(models.TextChoices):
    MONTH = "month", "Monthly"
    YEAR = "year", "Yearly"


MONTHLY_SEAT_CENTS = {Plan.TEAMS: 15_00, Plan.ENTERPRISE: 150_00}
PLAN_RANK = {Plan.TEAMS: 0, Plan.ENTERPRISE: 1}

BENEFITS = {
    Plan.TEAMS: (
        "All AI models at provider cost, no markup",
        "Organization dashboard: members, usage, billing",
        "Shared credits and per-member usage analytics",
        "Code-training opt-out for the whole team",
        "Email support",
    ),
    Plan.ENTERPRISE: (
        "Everything in Teams",
        "Single Sign-On (SAML and OIDC) with domain enforcement",
        "Provider and model allow-lists with data-policy filters",
        "Audit logs of every change",
        "Priority support and a named contact",
    ),
}


@dataclass(frozen=True)
class PlanPrice:
    plan: str
    interval: str

    @property
    def unit_amount(self) -> int:
        """Cents per seat per interval."""
        monthly = MONTHLY_SEAT_CENTS[self.plan]
        return monthly * 12 if self.interval == Interval.YEAR else monthly

    @property
    def stripe_id(self) -> str:
        return f"kilo-{self.plan}-{self.interval}-{self.unit_amount}"

    @property
    def product_name(self) -> str:
        return f"Kilo {Plan(self.plan).label}"

    @property
    def label(self) -> str:
        return f"{self.product_name}, {Interval(self.interval).label.lower()}"


ALL_PRICES = tuple(
    PlanPrice(plan, interval) for plan in Plan.values for interval in Interval.values
)


def price_for_stripe_id(stripe_id: str, metadata: dict | None = None) -> PlanPrice | None:
    """Which of our plans a Stripe plan id is (also an older price, by its metadata)."""
    for price in ALL_PRICES:
        if price.stripe_id == stripe_id:
            return price
    metadata = metadata or {}
    if metadata.get("kilo_plan") in Plan.values and metadata.get("interval") in Interval.values:
        return PlanPrice(metadata["kilo_plan"], metadata["interval"])
    return None


def is_upgrade(from_plan: str, to_plan: str) -> bool:
    return PLAN_RANK[to_plan] > PLAN_RANK[from_plan]
