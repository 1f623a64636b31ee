"""The Stripe event store: every webhook event, stored by id before anything else happens."""

from django.db import models


class StripeEventStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PROCESSED = "processed", "Processed"
    IGNORED = "ignored", "Ignored (type not handled)"
    FAILED = "failed", "Failed (Stripe will retry)"


class StripeEvent(models.Model):
    """Every webhook event received, stored by id before anything else happens."""

    stripe_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=100, db_index=True)
    status = models.CharField(
        max_length=20, choices=StripeEventStatus.choices, default=StripeEventStatus.PENDING
    )
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    api_version = models.CharField(max_length=40, blank=True)
    object_id = models.CharField(max_length=255, blank=True)
    payload = models.JSONField()
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        # The table predates this app (it was billing's); renaming it would buy nothing.
        db_table = "billing_stripeevent"
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"{self.type} {self.stripe_id}"
