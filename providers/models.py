"""The model catalog (providers, models, dated prices), provider data policies and each
organization's model policy.

Prices are USD per 1,000,000 tokens, kept as exact decimals: `tokens x price` is then already a
number of microdollars (rounded once, in usage). A model or provider that leaves the source is
marked removed, never deleted: usage events and price history keep pointing at it.
"""

from django.db import models


class Fact(models.TextChoices):
    """A data-policy fact as the tab shows it. Unknown is treated as the worse answer."""

    YES = "yes", "Yes"
    NO = "no", "No"
    UNKNOWN = "unknown", "Unknown"


class Provider(models.Model):
    slug = models.CharField(max_length=64, unique=True, help_text="The models.dev id.")
    name = models.CharField(max_length=200)
    doc_url = models.URLField(max_length=500, blank=True)
    api_url = models.URLField(max_length=500, blank=True)
    headquarters = models.CharField(max_length=2, blank=True, help_text="ISO 3166-1 alpha-2.")
    datacenters = models.JSONField(default=list, blank=True, help_text="ISO country codes.")
    trains_on_prompts = models.CharField(max_length=7, choices=Fact.choices, default=Fact.UNKNOWN)
    retains_prompts = models.CharField(max_length=7, choices=Fact.choices, default=Fact.UNKNOWN)
    can_publish = models.CharField(max_length=7, choices=Fact.choices, default=Fact.UNKNOWN)
    retention_days = models.PositiveIntegerField(null=True, blank=True)
    zero_retention = models.CharField(max_length=300, blank=True)
    # The source's own wording where it is more than yes/no ("free tier: yes; paid tier: no").
    policy_notes = models.JSONField(default=dict, blank=True)
    policy_sources = models.JSONField(default=list, blank=True)
    first_seen_at = models.DateTimeField()
    removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class CatalogModel(models.Model):
    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="models")
    model_id = models.CharField(max_length=128)
    name = models.CharField(max_length=200)
    family = models.CharField(max_length=100, blank=True)
    context_length = models.PositiveIntegerField(null=True, blank=True)
    max_output = models.PositiveIntegerField(null=True, blank=True)
    input_modalities = models.JSONField(default=list, blank=True)
    output_modalities = models.JSONField(default=list, blank=True)
    # " in:text in:image out:text ": lets every database filter modalities with LIKE.
    modality_tags = models.CharField(max_length=200, blank=True)
    release_date = models.DateField(null=True, blank=True)
    open_weights = models.BooleanField(default=False)
    reasoning = models.BooleanField(default=False)
    tool_call = models.BooleanField(default=False)
    # The price in force now, copied from the newest ModelPrice so the tab can filter and sort
    # in SQL. Null = the source gives no price.
    input_price = models.DecimalField(max_digits=20, decimal_places=10, null=True, blank=True)
    output_price = models.DecimalField(max_digits=20, decimal_places=10, null=True, blank=True)
    cache_read_price = models.DecimalField(max_digits=20, decimal_places=10, null=True, blank=True)
    cache_write_price = models.DecimalField(max_digits=20, decimal_places=10, null=True, blank=True)
    first_seen_at = models.DateTimeField(help_text="When a sync first saw it: 'new models'.")
    removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["provider__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "model_id"], name="catalogmodel_unique")
        ]
        indexes = [
            models.Index(fields=["removed_at", "input_price"], name="catalogmodel_input_price"),
            models.Index(fields=["removed_at", "context_length"], name="catalogmodel_context"),
            models.Index(fields=["removed_at", "release_date"], name="catalogmodel_release"),
        ]

    def __str__(self) -> str:
        return self.key

    @property
    def key(self) -> str:
        """The id the API and policies use: "provider/model"."""
        return f"{self.provider.slug}/{self.model_id}"


class ModelPrice(models.Model):
    """A price in force from `effective_from` until the model's next price row."""

    model = models.ForeignKey(CatalogModel, on_delete=models.CASCADE, related_name="prices")
    effective_from = models.DateTimeField()
    input = models.DecimalField(max_digits=20, decimal_places=10)
    output = models.DecimalField(max_digits=20, decimal_places=10)
    cache_read = models.DecimalField(max_digits=20, decimal_places=10)
    cache_write = models.DecimalField(max_digits=20, decimal_places=10)

    class Meta:
        ordering = ["model", "effective_from"]
        constraints = [
            models.UniqueConstraint(fields=["model", "effective_from"], name="modelprice_unique")
        ]

    def __str__(self) -> str:
        return f"{self.model_id} from {self.effective_from:%Y-%m-%d %H:%M}"


class SyncStatus(models.TextChoices):
    APPLIED = "applied", "Applied"
    UNCHANGED = "unchanged", "Unchanged"
    REFUSED = "refused", "Refused (catalog kept)"


class CatalogSync(models.Model):
    """One attempt to refresh the catalog: what it changed, or why it changed nothing."""

    source = models.CharField(max_length=500)
    started_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=SyncStatus.choices)
    message = models.TextField(blank=True)
    providers_added = models.PositiveIntegerField(default=0)
    models_added = models.PositiveIntegerField(default=0)
    models_updated = models.PositiveIntegerField(default=0)
    models_removed = models.PositiveIntegerField(default=0)
    prices_changed = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"{self.started_at:%Y-%m-%d %H:%M} {self.status}"


class ModelPolicy(models.Model):
    """An organization's model policy. No row = the default: everything allowed.

    Rules are "provider/model", "provider/*" or "*". The most specific matching rule decides;
    at equal specificity a deny wins (providers.policy.decide). Wildcard rules carry the time
    they were added, so that with `allow_new_models` off they cover only models seen by then.
    """

    organization = models.OneToOneField(
        "organizations.Organization", on_delete=models.CASCADE, related_name="model_policy"
    )
    # [{"rule": "anthropic/*", "added_at": "2026-11-30T12:00:00+00:00"}, ...]
    allow = models.JSONField(default=list, blank=True)
    deny = models.JSONField(default=list, blank=True)
    allow_new_models = models.BooleanField(default=True)
    # When "allow new models" was last switched off: wildcards stop growing from then on.
    new_models_frozen_at = models.DateTimeField(null=True, blank=True)
    default_model = models.CharField(max_length=200, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Model policy of {self.organization}"


class GatewayStanding(models.Model):
    """Facts the gateway check needs from apps above this one, pushed down by them.

    billing records whether the organization has credit left whenever its balance crosses
    zero (providers may not import billing: see ARCHITECTURE.md's import direction).
    No row = no credit recorded yet (a balance of zero).
    """

    organization = models.OneToOneField(
        "organizations.Organization", on_delete=models.CASCADE, related_name="gateway_standing"
    )
    has_credit = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Gateway standing of {self.organization}"
