"""The local mirror of an organization's Stripe subscription, and its change history."""

import uuid

from django.conf import settings
from django.db import models

from organizations.models import Organization, Plan

from .plans import Interval


class Status(models.TextChoices):
    """Stripe's subscription statuses."""

    INCOMPLETE = "incomplete", "Awaiting payment"
    INCOMPLETE_EXPIRED = "incomplete_expired", "Payment never completed"
    TRIALING = "trialing", "Trial"
    ACTIVE = "active", "Active"
    PAST_DUE = "past_due", "Past due"
    UNPAID = "unpaid", "Unpaid"
    CANCELED = "canceled", "Ended"
    PAUSED = "paused", "Paused"


LIVE_STATUSES = (Status.ACTIVE, Status.TRIALING, Status.PAST_DUE, Status.INCOMPLETE)
PAYMENT_PROBLEM_STATUSES = (Status.PAST_DUE, Status.UNPAID)
ENDED_STATUSES = (Status.CANCELED, Status.INCOMPLETE_EXPIRED)


class Subscription(models.Model):
    """One per organization: its current (or last) Stripe subscription, as Stripe says it is.

    Changes that wait for the renewal (fewer seats, another billing frequency, a downgrade) are
    kept here in `scheduled_*` and applied to Stripe when the period ends.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.OneToOneField(
        Organization, on_delete=models.CASCADE, related_name="subscription"
    )
    stripe_id = models.CharField(max_length=255, unique=True)
    stripe_item_id = models.CharField(max_length=255, blank=True)
    plan = models.CharField(max_length=20, choices=Plan.choices)
    interval = models.CharField(max_length=10, choices=Interval.choices)
    quantity = models.PositiveIntegerField()
    status = models.CharField(max_length=20, choices=Status.choices)
    current_period_start = models.DateTimeField(null=True, blank=True)
    current_period_end = models.DateTimeField(null=True, blank=True)
    cancel_at_period_end = models.BooleanField(default=False)
    canceled_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    scheduled_quantity = models.PositiveIntegerField(null=True, blank=True)
    scheduled_interval = models.CharField(max_length=10, choices=Interval.choices, blank=True)
    scheduled_plan = models.CharField(max_length=20, choices=Plan.choices, blank=True)
    last_payment_failed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    synced_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.organization} · {self.quantity} × {self.plan} ({self.status})"

    @property
    def is_live(self) -> bool:
        return self.status in LIVE_STATUSES

    @property
    def has_ended(self) -> bool:
        return self.status in ENDED_STATUSES

    @property
    def has_scheduled_change(self) -> bool:
        return bool(self.scheduled_quantity or self.scheduled_interval or self.scheduled_plan)


class ChangeKind(models.TextChoices):
    SUBSCRIBED = "subscribed", "Subscribed"
    SEATS_ADDED = "seats_added", "Seats added"
    SEATS_REMOVAL_SCHEDULED = "seats_removal_scheduled", "Seat removal scheduled"
    SEATS_REMOVED = "seats_removed", "Seats removed"
    INTERVAL_CHANGE_SCHEDULED = "interval_change_scheduled", "Billing frequency change scheduled"
    INTERVAL_CHANGED = "interval_changed", "Billing frequency changed"
    UPGRADED = "upgraded", "Upgraded"
    DOWNGRADE_SCHEDULED = "downgrade_scheduled", "Downgrade scheduled"
    DOWNGRADED = "downgraded", "Downgraded"
    SCHEDULE_CLEARED = "schedule_cleared", "Scheduled change withdrawn"
    CANCEL_SCHEDULED = "cancel_scheduled", "Cancellation scheduled"
    CANCEL_UNDONE = "cancel_undone", "Cancellation withdrawn"
    ENDED = "ended", "Subscription ended"
    PAYMENT_FAILED = "payment_failed", "Payment failed"
    RECONCILED = "reconciled", "Corrected from Stripe"


SEAT_KINDS = (
    ChangeKind.SUBSCRIBED,
    ChangeKind.SEATS_ADDED,
    ChangeKind.SEATS_REMOVAL_SCHEDULED,
    ChangeKind.SEATS_REMOVED,
    ChangeKind.RECONCILED,
)


class SubscriptionChange(models.Model):
    """Every change to a subscription: who, when, from what to what, and what it cost at once.

    Seat rows form the Subscriptions tab's seat history; all rows appear in the Billing tab's
    purchase history.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="subscription_changes"
    )
    subscription = models.ForeignKey(Subscription, on_delete=models.CASCADE, related_name="changes")
    kind = models.CharField(max_length=32, choices=ChangeKind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_email = models.EmailField(blank=True)
    from_quantity = models.PositiveIntegerField(null=True, blank=True)
    to_quantity = models.PositiveIntegerField(null=True, blank=True)
    from_plan = models.CharField(max_length=20, blank=True)
    to_plan = models.CharField(max_length=20, blank=True)
    from_interval = models.CharField(max_length=10, blank=True)
    to_interval = models.CharField(max_length=10, blank=True)
    amount_cents = models.IntegerField(default=0, help_text="Charged at once (prorated), cents.")
    effective_at = models.DateTimeField()
    stripe_ref = models.CharField(max_length=255, blank=True)
    # The confirming form's one-time id: a double submit is recognized and does nothing.
    request_key = models.CharField(max_length=100, unique=True, null=True, blank=True)
    note = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["organization", "-created_at"], name="subchange_org_time")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.organization}"

    @property
    def seat_delta(self) -> int:
        if self.from_quantity is None or self.to_quantity is None:
            return 0
        return self.to_quantity - self.from_quantity

    @property
    def detail(self) -> str:
        """One line for history tables: what changed."""
        parts = []
        if self.from_quantity and self.to_quantity is not None:
            if self.from_quantity != self.to_quantity:
                parts.append(f"{self.from_quantity} → {self.to_quantity} seats")
            elif self.kind != ChangeKind.RECONCILED:
                parts.append(f"{self.to_quantity} seats")
        elif self.to_quantity is not None:
            parts.append(f"{self.to_quantity} seats")
        if self.to_plan and self.from_plan != self.to_plan:
            labels = dict(Plan.choices)
            frm = labels.get(self.from_plan, "")
            parts.append(f"{frm} → {labels[self.to_plan]}" if frm else labels[self.to_plan])
        if self.to_interval and self.from_interval != self.to_interval:
            labels = dict(Interval.choices)
            frm = labels.get(self.from_interval, "")
            parts.append(f"{frm} → {labels[self.to_interval]}" if frm else labels[self.to_interval])
        if self.note:
            parts.append(self.note)
        return " · ".join(parts)


class IntentState(models.TextChoices):
    """Where a change at once stands. Stripe is called only after CREATED is committed, and the
    local apply happens only after Stripe's answer is committed, so a crash at any point leaves a
    row that `intents.intent_resume` finishes (or reverses) later."""

    CREATED = "created", "Recorded, not yet sent to Stripe"
    STRIPE_CALLED = "stripe_called", "Sent to Stripe, answer not recorded"
    REQUIRES_ACTION = "requires_action", "Awaiting the bank's authentication"
    PAID = "paid", "Paid in Stripe, not yet applied here"
    APPLIED = "applied", "Applied"
    FAILED = "failed", "Failed: nothing charged, nothing changed"
    REVERSED = "reversed", "Could not be applied: refunded and restored in Stripe"
    NEEDS_ATTENTION = "needs_attention", "Needs an operator"


OPEN_INTENT_STATES = (
    IntentState.CREATED,
    IntentState.STRIPE_CALLED,
    IntentState.REQUIRES_ACTION,
    IntentState.PAID,
)


class ChangeIntent(models.Model):
    """A change made at once (start, seats added, upgrade), recorded before Stripe is called.

    Its public id makes the Stripe idempotency key, so repeating the call (a retry, the resume
    task) never charges twice. At most one open intent per organization: two admins adding seats
    at once do not both build on the same Stripe quantity.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="subscription_intents"
    )
    subscription = models.ForeignKey(
        Subscription, on_delete=models.CASCADE, null=True, blank=True, related_name="intents"
    )
    kind = models.CharField(max_length=32, choices=ChangeKind.choices)
    state = models.CharField(
        max_length=20, choices=IntentState.choices, default=IntentState.CREATED
    )
    add_seats = models.PositiveIntegerField(default=0)
    from_quantity = models.PositiveIntegerField(default=0)
    to_quantity = models.PositiveIntegerField()
    from_plan = models.CharField(max_length=20, blank=True)
    plan = models.CharField(max_length=20, choices=Plan.choices)
    from_interval = models.CharField(max_length=10, blank=True)
    interval = models.CharField(max_length=10, choices=Interval.choices)
    proration_date = models.BigIntegerField(null=True, blank=True)
    amount_cents = models.IntegerField(default=0, help_text="Charged at once, cents.")
    lines = models.JSONField(default=list, help_text="What the amount is made of, for the receipt.")
    payment_intent_id = models.CharField(max_length=255, blank=True)
    stripe_ref = models.CharField(
        max_length=255, blank=True, help_text="The invoice (Stripe) or PaymentIntent that charged."
    )
    request_key = models.CharField(max_length=100, unique=True, null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0, help_text="Failed local applies.")
    last_error = models.TextField(blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_email = models.EmailField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    change = models.OneToOneField(
        SubscriptionChange, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization"],
                condition=models.Q(state__in=OPEN_INTENT_STATES),
                name="one_open_change_intent_per_org",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.get_state_display()}) · {self.organization}"

    @property
    def idempotency_key(self) -> str:
        return f"change-intent-{self.public_id}"

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_INTENT_STATES
