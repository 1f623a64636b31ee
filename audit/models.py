"""The audit trail: one row per state change, written in the same transaction as the change.

Each organization's events form a hash chain (`sequence`, `prev_hash`, `hash`); its head lives in
`AuditTrail`, whose row is locked by every writer so that two concurrent transactions cannot both
append event n+1. `AuditCount` keeps totals per local day and action, and `AuditMemberCount` the
same per acting member, written under the same lock, so that the tab's "totals by day/week" never
count millions of raw rows in a request, whichever filters are applied.
"""

import uuid

from django.conf import settings
from django.db import models

GENESIS_HASH = "0" * 64


class ActorType(models.TextChoices):
    USER = "user", "User"
    API_KEY = "api_key", "API key"
    STRIPE = "stripe", "Stripe"
    SYSTEM = "system", "System task"


class AuditEvent(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # Nullable: some events (a failed sign-in for an unknown address) belong to no organization.
    organization = models.ForeignKey(
        "organizations.Organization",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="audit_events",
    )
    actor_type = models.CharField(max_length=10, choices=ActorType.choices, default="system")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    # Kept as text so the trail survives the actor's account being deleted.
    actor_email = models.EmailField(blank=True)
    # Who, when not a user: the API key's name, the Stripe event, the task's name.
    actor_label = models.CharField(max_length=255, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    action = models.CharField(max_length=64)
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_label = models.CharField(max_length=255, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField()
    # The organization's hash chain (NULL for events of no organization).
    sequence = models.BigIntegerField(null=True, blank=True)
    prev_hash = models.CharField(max_length=64, blank=True)
    hash = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "sequence"], name="audit_org_sequence"),
        ]
        indexes = [
            # The tab's keyset pagination: newest first, ties broken by id.
            models.Index(fields=["organization", "-created_at", "-id"], name="audit_org_time_id"),
            models.Index(
                fields=["organization", "action", "-created_at", "-id"],
                name="audit_org_action_time",
            ),
            models.Index(
                fields=["organization", "actor", "-created_at", "-id"], name="audit_org_actor_time"
            ),
            # One member's one action (the tab's narrowest common view): a plain range scan.
            models.Index(
                fields=["organization", "actor", "action", "-created_at", "-id"],
                name="audit_org_actor_action",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_email or 'system'} {self.action}"


class AuditTrail(models.Model):
    """One per organization: the chain's head (locked by every writer), the anchor left by
    retention pruning, and the retention setting."""

    organization = models.OneToOneField(
        "organizations.Organization",
        on_delete=models.PROTECT,
        primary_key=True,
        related_name="audit_trail",
    )
    last_sequence = models.BigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default=GENESIS_HASH)
    # Events up to and including `anchor_sequence` were pruned; the first kept event's prev_hash
    # must equal `anchor_hash` (the hash of the last pruned event).
    anchor_sequence = models.BigIntegerField(default=0)
    anchor_hash = models.CharField(max_length=64, default=GENESIS_HASH)
    retention_years = models.PositiveSmallIntegerField(default=1)
    # The time zone of AuditCount's days ("" until the first event).
    count_time_zone = models.CharField(max_length=64, blank=True)

    def __str__(self) -> str:
        return f"Audit trail of organization {self.organization_id} (#{self.last_sequence})"

    @property
    def retained_events(self) -> int:
        return self.last_sequence - self.anchor_sequence


class AuditCount(models.Model):
    """Events per organization, local day and action, written under the chain lock by
    audit_record. Days are in the organization's time zone as recorded in
    AuditTrail.count_time_zone; after the organization changes its zone, the tab counts from the
    events until the daily task has rebuilt these rows in the new zone."""

    organization = models.ForeignKey(
        "organizations.Organization", on_delete=models.CASCADE, related_name="+"
    )
    day = models.DateField()
    action = models.CharField(max_length=64)
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "day", "action"], name="audit_count_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.action}: {self.count}"


class AuditMemberCount(models.Model):
    """Events per organization, acting user, local day and action: the totals of a view narrowed
    to one member (with or without an action or category) read at most days x actions of these
    rows instead of that member's events. Kept like AuditCount (same lock, same time zone, same
    pruning and rebuild). Events with no acting user (Stripe, tasks, API keys) have no row here:
    the member filter never selects them. Deleting the user deletes their rows, as it empties
    the events' actor (SET_NULL) that the member filter matches on."""

    # No index of its own: the unique constraint's index starts with it.
    organization = models.ForeignKey(
        "organizations.Organization", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    action = models.CharField(max_length=64)
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            # Its index, in this order, is the read path: one member's days of a range.
            models.UniqueConstraint(
                fields=["organization", "actor", "day", "action"],
                name="audit_member_count_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.day} user {self.actor_id} {self.action}: {self.count}"


class ChainCheck(models.Model):
    """The outcome of one verification of an organization's chain (daily task or command)."""

    organization = models.ForeignKey(
        "organizations.Organization", on_delete=models.CASCADE, related_name="+"
    )
    checked_at = models.DateTimeField()
    ok = models.BooleanField()
    events_checked = models.BigIntegerField()
    through_sequence = models.BigIntegerField(default=0)
    problem = models.TextField(blank=True)

    class Meta:
        indexes = [models.Index(fields=["organization", "-checked_at"], name="audit_check_latest")]

    def __str__(self) -> str:
        return f"{'ok' if self.ok else 'BROKEN'} at {self.checked_at:%Y-%m-%d %H:%M}"
