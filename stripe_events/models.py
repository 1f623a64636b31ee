"""The Stripe event store: every webhook event, stored by id before anything else happens."""

from django.db import models


class StripeEventStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PROCESSED = "processed", "Processed"
    IGNORED = "ignored", "Ignored (type not handled)"
    # Retried by Stripe's redelivery, the task's own retries, then the hourly replay (bounded).
    FAILED = "failed", "Failed"


class StripeEvent(models.Model):
    """Every webhook event received, stored by id before anything else happens."""

    stripe_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=100, db_index=True)
    status = models.CharField(
        max_length=20, choices=StripeEventStatus.choices, default=StripeEventStatus.PENDING
    )
    error = models.TextField(blank=True)
    # Every run of the handlers (webhook deliveries, task retries, replays, staff retries).
    attempts = models.PositiveIntegerField(default=0)
    # Runs started by the hourly replay after the task had used up its own retries; bounded by
    # stripe_events.replay.MAX_REPLAYS so that an event that can never succeed stops costing
    # Stripe calls (it stays FAILED, listed in admin and logged at ERROR every hour).
    replays = models.PositiveIntegerField(default=0)
    last_replayed_at = models.DateTimeField(null=True, blank=True)
    # When the current run of failures began (kept across retries, cleared on success): what
    # "FAILED for more than an hour" is measured from.
    failed_at = models.DateTimeField(null=True, blank=True)
    api_version = models.CharField(max_length=40, blank=True)
    object_id = models.CharField(max_length=255, blank=True)
    payload = models.JSONField()
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        # The table predates this app (it was billing's); renaming it would buy nothing.
        db_table = "billing_stripeevent"
        ordering = ["-received_at"]
        indexes = [
            # The hourly replay and the admin's "needs attention" filter read failed events only.
            models.Index(
                fields=["failed_at"],
                name="stripe_event_failed_idx",
                condition=models.Q(status="failed"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.stripe_id}"
