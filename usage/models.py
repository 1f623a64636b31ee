"""Usage data: ingest keys, raw events and the rollups the Usage tab reads.

Money is integer microdollars (1 USD = 1,000,000). Times are UTC; an organization's time zone
only decides where its days begin (daily rollups) and how the weekly pattern is drawn.
"""

import uuid

from django.conf import settings
from django.db import models


class KeyScope(models.TextChoices):
    """Which APIs a key may call. Keys made before scopes existed are "both"."""

    BOTH = "both", "Usage ingest and gateway"
    INGEST = "ingest", "Usage ingest only"
    GATEWAY = "gateway", "Gateway only"


class IngestKey(models.Model):
    """An organization's API key: POST /api/v1/usage/events (scope "ingest") and/or
    GET /api/v1/models and POST /api/v1/authorize (scope "gateway"). Only its SHA-256 is
    stored."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(
        "organizations.Organization", on_delete=models.CASCADE, related_name="ingest_keys"
    )
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, help_text="The first characters, to recognise it.")
    key_hash = models.CharField(max_length=64, unique=True)
    scope = models.CharField(max_length=7, choices=KeyScope.choices, default=KeyScope.BOTH)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["organization", "revoked_at"], name="ingestkey_org_active")]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def allows(self, scope: str) -> bool:
        """May this key call the APIs of `scope` ("ingest" or "gateway")?"""
        return self.scope in (KeyScope.BOTH, scope)


class EventStatus(models.TextChoices):
    SUCCESS = "success", "Success"
    ERROR = "error", "Error"


class UsageEvent(models.Model):
    """One AI request, as sent. Append-only.

    On PostgreSQL the table is range-partitioned by month on `occurred_at` (see migration 0002),
    so its primary key is (id, occurred_at) there; `id` comes from one sequence and is the
    rollup's cursor. `user_id` is deliberately not a foreign key: raw usage outlives memberships
    and COPY stays fast.
    """

    id = models.BigAutoField(primary_key=True)
    organization_id = models.BigIntegerField()
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField()
    request_id = models.CharField(max_length=128)
    user_id = models.BigIntegerField()
    user_email = models.CharField(max_length=254)
    model = models.CharField(max_length=128)
    provider = models.CharField(max_length=64)
    feature = models.CharField(max_length=64, blank=True)
    project = models.CharField(max_length=128, blank=True)
    input_tokens = models.BigIntegerField(default=0)
    output_tokens = models.BigIntegerField(default=0)
    cache_read_tokens = models.BigIntegerField(default=0)
    cache_write_tokens = models.BigIntegerField(default=0)
    cost_microdollars = models.BigIntegerField(default=0)
    cost_from_catalog = models.BooleanField(default=False)
    latency_ms = models.IntegerField(default=0)
    status = models.CharField(max_length=7, choices=EventStatus.choices)
    error_code = models.CharField(max_length=64, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["organization_id", "occurred_at"], name="usageevent_org_time")
        ]

    def __str__(self) -> str:
        return f"{self.request_id} {self.model} {self.occurred_at:%Y-%m-%d %H:%M}"


class IngestedRequest(models.Model):
    """One row per accepted event's (organization, UTC day it occurred on, request_id): the
    de-duplication key.

    A retry carries the event's own timestamp, so it lands on the same key and is refused; the
    same request id on another day is another event. The day makes the key table partitionable
    by month like the events (migration 0008): retention drops a month's keys with the month's
    events, and each batch's inserts land in the part of the index that holds the days being
    reported (today, for live traffic), so ingestion does not slow down as keys accumulate.
    """

    pk = models.CompositePrimaryKey("organization_id", "occurred_on", "request_id")
    organization_id = models.BigIntegerField()
    occurred_on = models.DateField()
    request_id = models.CharField(max_length=128)

    def __str__(self) -> str:
        return f"{self.organization_id}:{self.occurred_on}:{self.request_id}"


class RollupState(models.Model):
    """A single row: how far the rollup has read the event sequence. Locked while it runs."""

    last_event_id = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"rollup cursor at event {self.last_event_id}"


METRIC_FIELDS = [
    "requests",
    "errors",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cost_microdollars",
]


class Metrics(models.Model):
    """The additive figures every rollup carries."""

    organization_id = models.BigIntegerField()
    requests = models.BigIntegerField(default=0)
    errors = models.BigIntegerField(default=0)
    input_tokens = models.BigIntegerField(default=0)
    output_tokens = models.BigIntegerField(default=0)
    cache_read_tokens = models.BigIntegerField(default=0)
    cache_write_tokens = models.BigIntegerField(default=0)
    cost_microdollars = models.BigIntegerField(default=0)

    class Meta:
        abstract = True


class Latency(models.Model):
    """A mergeable latency histogram and the percentiles read from it (see `usage.sketch`).

    `latency_histogram` maps a log bucket index (as text) to a count of events; merging two rows
    adds the counts. The stored p50/p95 are nearest-rank percentiles estimated from it, within
    the sketch's relative error, refreshed whenever the row takes in new events.
    """

    latency_histogram = models.JSONField(default=dict)
    latency_p50_ms = models.IntegerField(default=0)
    latency_p95_ms = models.IntegerField(default=0)

    class Meta:
        abstract = True


HOURS = range(24)


def hour_column(hour: int) -> str:
    """The column counting a row's requests in local hour `hour` (0-23) of its day."""
    return f"requests_h{hour:02d}"


class HourOfDay(models.Model):
    """Requests per local hour of the row's day: requests_h00 .. requests_h23.

    The weekly pattern (weekday x hour in the organization's zone) is the sum of these columns
    over the days of the window, each day placed on its weekday: exact, and read from one row
    per day instead of one per hour. The columns add like every other sum, so the rollup merges
    them with ON CONFLICT DO UPDATE as well.
    """

    class Meta:
        abstract = True


for _hour in HOURS:
    HourOfDay.add_to_class(hour_column(_hour), models.IntegerField(default=0))


class DailyRollup(Metrics, Latency, HourOfDay):
    """Per organization x day (in the organization's time zone) x member x model x provider."""

    day = models.DateField()
    user_id = models.BigIntegerField()
    model = models.CharField(max_length=128)
    provider = models.CharField(max_length=64)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization_id", "day", "user_id", "model", "provider"],
                name="dailyrollup_unique",
            )
        ]
        # Covering: a filtered view (members of one model, models of one member) reads its
        # rows from the index alone instead of fetching ~1 KB rows (hour counters, histogram)
        # from the heap: 9,100 rows in 3 ms instead of 98 ms.
        indexes = [
            models.Index(
                fields=["organization_id", "user_id", "day"],
                include=["model", "provider", *METRIC_FIELDS],
                name="daily_org_user_covering",
            ),
            models.Index(
                fields=["organization_id", "model", "day"],
                include=["provider", "user_id", *METRIC_FIELDS],
                name="daily_org_model_covering",
            ),
            models.Index(
                fields=["organization_id", "provider", "day"],
                include=["model", "user_id", *METRIC_FIELDS],
                name="daily_org_provider_covering",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.organization_id} {self.day} {self.model}"


# Compact rollups: what the default (unfiltered) view reads, so that its cost depends on the
# number of days, models and members, not on the number of events.


class OrgDailyRollup(Metrics, HourOfDay):
    """Per organization x local day: totals, daily trend and monthly comparison."""

    day = models.DateField()
    active_users = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization_id", "day"], name="orgdaily_unique")
        ]

    def __str__(self) -> str:
        return f"{self.organization_id} {self.day}"


class ModelDailyRollup(Metrics, Latency, HourOfDay):
    """Per organization x local day x model x provider (percentiles across all members)."""

    day = models.DateField()
    model = models.CharField(max_length=128)
    provider = models.CharField(max_length=64)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization_id", "day", "model", "provider"], name="modeldaily_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.organization_id} {self.day} {self.model}"


class MemberDailyRollup(Metrics, HourOfDay):
    """Per organization x local day x member."""

    day = models.DateField()
    user_id = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization_id", "day", "user_id"], name="memberdaily_unique"
            )
        ]
        indexes = [
            models.Index(fields=["organization_id", "user_id", "day"], name="memberdaily_user")
        ]

    def __str__(self) -> str:
        return f"{self.organization_id} {self.day} user {self.user_id}"


class ModelWeeklyLatency(models.Model):
    """Per organization x local week (starting Monday) x model x provider: the week's latency
    histogram, the ModelDailyRollup histograms of its seven days merged.

    A window's model percentiles read whole weeks from here and only the days at its edges
    from the daily rows: a 90-day window merges about 18 histograms per model instead of 90.
    """

    organization_id = models.BigIntegerField()
    week = models.DateField(help_text="The Monday the week starts on, in the organization's zone.")
    model = models.CharField(max_length=128)
    provider = models.CharField(max_length=64)
    latency_histogram = models.JSONField(default=dict)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization_id", "week", "model", "provider"],
                name="modelweeklylatency_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.organization_id} week of {self.week} {self.model}"
