"""Billing state: Stripe mirrors, the append-only credit ledger, payments and documents.

Money: Stripe amounts are integer cents (`*_cents`), credits are integer microdollars
(`*_microdollars`, 1 USD = 1,000,000). Never floats.
"""

import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from organizations.models import Organization


class StripeCustomer(models.Model):
    """The organization's customer in Stripe, created the first time billing needs one."""

    organization = models.OneToOneField(
        Organization, on_delete=models.CASCADE, related_name="stripe_customer"
    )
    stripe_id = models.CharField(max_length=255, unique=True)
    email = models.EmailField(blank=True)
    name = models.CharField(max_length=200, blank=True)
    address_line1 = models.CharField(max_length=200, blank=True)
    address_line2 = models.CharField(max_length=200, blank=True)
    address_city = models.CharField(max_length=100, blank=True)
    address_postal_code = models.CharField(max_length=20, blank=True)
    address_state = models.CharField(max_length=100, blank=True)
    address_country = models.CharField(max_length=2, blank=True)
    tax_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.stripe_id} ({self.organization})"

    @property
    def address_lines(self) -> list[str]:
        city = " ".join(p for p in (self.address_postal_code, self.address_city) if p)
        parts = [self.address_line1, self.address_line2, city, self.address_state]
        parts.append(self.address_country)
        return [p for p in parts if p]


class BillingAccount(models.Model):
    """One row per organization: the cached balance (sum of its ledger entries) and counters.

    The row is locked (select_for_update) by every ledger write, so that the cached balance and
    the entries' running balances never disagree.
    """

    organization = models.OneToOneField(
        Organization, on_delete=models.CASCADE, related_name="billing_account"
    )
    balance_microdollars = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Billing account of {self.organization}"


class LedgerKind(models.TextChoices):
    PURCHASE = "purchase", "Credit purchase"
    USAGE = "usage", "Usage"
    PROMOTIONAL = "promotional", "Promotional credit"
    REFUND = "refund", "Refund"
    ADJUSTMENT = "adjustment", "Adjustment"


class ImmutableQuerySet(models.QuerySet):
    def update(self, **kwargs: object) -> int:
        raise ValidationError("Credit ledger entries are append-only: add a reversing entry.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise ValidationError("Credit ledger entries are append-only: add a reversing entry.")


class CreditLedgerEntry(models.Model):
    """Append-only. Corrections are new reversing entries (also a PostgreSQL trigger)."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="ledger_entries"
    )
    kind = models.CharField(max_length=20, choices=LedgerKind.choices)
    amount_microdollars = models.BigIntegerField(help_text="Signed: credits in are positive.")
    balance_after_microdollars = models.BigIntegerField()
    # The Stripe object id, rollup window id or redemption id that caused the entry: a second
    # attempt to record the same cause fails on this constraint instead of crediting twice.
    idempotency_key = models.CharField(max_length=255, unique=True)
    description = models.CharField(max_length=255, blank=True)
    payment = models.ForeignKey(
        "Payment", on_delete=models.PROTECT, null=True, blank=True, related_name="ledger_entries"
    )
    refund = models.ForeignKey(
        "Refund", on_delete=models.PROTECT, null=True, blank=True, related_name="ledger_entries"
    )
    redemption = models.OneToOneField(
        "Redemption", on_delete=models.PROTECT, null=True, blank=True, related_name="entry"
    )
    source_ref = models.CharField(
        max_length=255, blank=True, help_text="Other cause (e.g. rollup)."
    )
    # The local day (org's time zone) the money movement belongs to: statements and the credit
    # history group by it. A purchase or refund: the day it happened; a usage debit: the day of
    # the usage it charges, however late it was posted.
    effective_date = models.DateField()
    # Set on usage debits and their corrections: the local day of usage they charge. The day's
    # entries sum to minus that day's rolled-up cost (what `verify_ledger` checks).
    usage_day = models.DateField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField()

    objects = ImmutableQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "credit ledger entries"
        indexes = [
            models.Index(fields=["organization", "created_at"], name="ledger_org_created"),
            models.Index(fields=["organization", "kind", "created_at"], name="ledger_org_kind"),
            models.Index(fields=["organization", "effective_date"], name="ledger_org_effective"),
            models.Index(fields=["organization", "usage_day"], name="ledger_org_usage_day"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(amount_microdollars=0), name="ledger_amount_nonzero"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount_microdollars} µ$ ({self.organization})"

    def save(self, *args: object, **kwargs: object) -> None:
        if not self._state.adding:
            raise ValidationError("Credit ledger entries are append-only: add a reversing entry.")
        super().save(*args, **kwargs)

    def delete(self, *args: object, **kwargs: object):  # noqa: ANN201
        raise ValidationError("Credit ledger entries are append-only: add a reversing entry.")


class PaymentMethod(models.Model):
    """Mirror of a card attached to the organization's Stripe customer."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="payment_methods"
    )
    stripe_id = models.CharField(max_length=255, unique=True)
    brand = models.CharField(max_length=32)
    last4 = models.CharField(max_length=4)
    exp_month = models.PositiveSmallIntegerField()
    exp_year = models.PositiveSmallIntegerField()
    is_default = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    detached_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-is_default", "-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization"],
                condition=models.Q(is_default=True, detached_at__isnull=True),
                name="payment_method_one_default",
            )
        ]

    def __str__(self) -> str:
        return f"{self.brand_label} ···· {self.last4}"

    @property
    def brand_label(self) -> str:
        return {"amex": "American Express", "mastercard": "Mastercard"}.get(
            self.brand.lower(), self.brand.title()
        )

    @property
    def expiry(self) -> str:
        return f"{self.exp_month:02d}/{self.exp_year}"


class PaymentPurpose(models.TextChoices):
    CREDIT_PURCHASE = "credit_purchase", "Credit purchase"
    AUTO_TOP_UP = "auto_top_up", "Auto top-up"


class PaymentStatus(models.TextChoices):
    CREATED = "created", "Created"
    REQUIRES_ACTION = "requires_action", "Needs authentication"
    PROCESSING = "processing", "Processing"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELED = "canceled", "Canceled"


class Payment(models.Model):
    """Mirror of a PaymentIntent we created. Credits follow only from Stripe's word."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="payments"
    )
    stripe_payment_intent_id = models.CharField(max_length=255, unique=True, null=True, blank=True)
    stripe_charge_id = models.CharField(max_length=255, blank=True, db_index=True)
    purpose = models.CharField(max_length=20, choices=PaymentPurpose.choices)
    amount_cents = models.PositiveIntegerField()
    # Refunds Stripe confirmed (succeeded).
    amount_refunded_cents = models.PositiveIntegerField(default=0)
    # Refunds confirmed plus refunds requested and not yet settled: the amount no longer
    # refundable. Raised under a row lock before Stripe is called, lowered if Stripe refuses.
    refund_reserved_cents = models.PositiveIntegerField(default=0)
    currency = models.CharField(max_length=3, default="usd")
    status = models.CharField(
        max_length=20, choices=PaymentStatus.choices, default=PaymentStatus.CREATED
    )
    failure_code = models.CharField(max_length=64, blank=True)
    failure_message = models.CharField(max_length=500, blank=True)
    card_label = models.CharField(max_length=64, blank=True)
    # The confirmation's one-time key (kilo_dashboard.request_keys), or "auto-top-up-<org>-<period>"
    # for an auto top-up: the same confirmation submitted again finds this payment and charges
    # nothing, whatever state the first one reached.
    request_key = models.CharField(max_length=64, unique=True, null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    succeeded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["organization", "created_at"], name="payment_org_created")]
        constraints = [
            # The database itself refuses a refund total above the payment, whatever the code.
            models.CheckConstraint(
                condition=models.Q(refund_reserved_cents__lte=models.F("amount_cents")),
                name="payment_refunds_within_amount",
            ),
            models.CheckConstraint(
                condition=models.Q(amount_refunded_cents__lte=models.F("refund_reserved_cents")),
                name="payment_refunded_within_reserved",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_purpose_display()} {self.amount_cents}¢ {self.status}"


class RefundState(models.TextChoices):
    RESERVED = "reserved", "Requested (amount reserved, Stripe not confirmed yet)"
    SUCCEEDED = "succeeded", "Refunded"
    RELEASED = "released", "Not refunded (Stripe refused; reservation released)"


class Refund(models.Model):
    """A refund of (part of) a payment: first the intent (amount reserved on the payment under a
    lock, committed before Stripe is called), then Stripe's refund, then the ledger entry.

    Refunds made in Stripe's own dashboard arrive through charge.refunded as SUCCEEDED rows with
    no request key.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="refunds")
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    stripe_id = models.CharField(max_length=255, unique=True, null=True, blank=True)
    # The caller's key for this request: a replay of the request returns this refund.
    request_key = models.CharField(max_length=255, unique=True, null=True, blank=True)
    amount_cents = models.PositiveIntegerField()
    state = models.CharField(
        max_length=20, choices=RefundState.choices, default=RefundState.RESERVED
    )
    status = models.CharField(max_length=20, blank=True, help_text="Stripe's refund status.")
    failure_reason = models.CharField(max_length=500, blank=True)
    # Set only when staff refunded more than the organization's unspent credit ("refund
    # anyway"): why. Such a refund takes the balance below zero; verify_ledger names it.
    beyond_balance_reason = models.CharField(max_length=500, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(amount_cents__gt=0), name="refund_amount_positive"
            )
        ]

    def __str__(self) -> str:
        return f"Refund {self.stripe_id or self.public_id} ({self.amount_cents}¢, {self.state})"

    @property
    def stripe_idempotency_key(self) -> str:
        """Derived from the intent: a retry after a crash can never refund twice in Stripe."""
        return f"refund-intent-{self.public_id}"


class PromotionCode(models.Model):
    """Created by staff in Django admin; redeemed by owners on the Billing tab."""

    code = models.CharField(max_length=40, unique=True, help_text="Stored upper-case.")
    description = models.CharField(max_length=200, blank=True)
    amount_microdollars = models.BigIntegerField()
    expires_at = models.DateTimeField(null=True, blank=True)
    max_redemptions = models.PositiveIntegerField(null=True, blank=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(amount_microdollars__gt=0), name="promotion_amount_positive"
            )
        ]

    def __str__(self) -> str:
        return self.code

    def save(self, *args: object, **kwargs: object) -> None:
        self.code = self.code.strip().upper()
        super().save(*args, **kwargs)


class Redemption(models.Model):
    promotion = models.ForeignKey(
        PromotionCode, on_delete=models.PROTECT, related_name="redemptions"
    )
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="promotion_redemptions"
    )
    redeemed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["promotion", "organization"], name="redemption_once_per_org"
            )
        ]

    def __str__(self) -> str:
        return f"{self.promotion} by {self.organization}"


class StripeInvoice(models.Model):
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="stripe_invoices"
    )
    stripe_id = models.CharField(max_length=255, unique=True)
    number = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=20, blank=True)
    amount_due_cents = models.IntegerField(default=0)
    amount_paid_cents = models.IntegerField(default=0)
    currency = models.CharField(max_length=3, default="usd")
    period_start = models.DateTimeField(null=True, blank=True)
    period_end = models.DateTimeField(null=True, blank=True)
    hosted_invoice_url = models.URLField(max_length=1000, blank=True)
    stripe_created_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-stripe_created_at"]

    def __str__(self) -> str:
        return self.number or self.stripe_id


class DocumentKind(models.TextChoices):
    RECEIPT = "receipt", "Receipt"
    STATEMENT = "statement", "Monthly statement"
    SEAT_RECEIPT = "seat_receipt", "Seat receipt"


class Document(models.Model):
    """A receipt or statement PDF: numbered per organization, immutable once issued."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="billing_documents"
    )
    kind = models.CharField(max_length=20, choices=DocumentKind.choices)
    sequence = models.PositiveIntegerField(help_text="Sequential per organization.")
    payment = models.OneToOneField(
        Payment, on_delete=models.PROTECT, null=True, blank=True, related_name="receipt"
    )
    period_start = models.DateField(null=True, blank=True)
    period_end = models.DateField(null=True, blank=True, help_text="Exclusive.")
    file = models.FileField(upload_to="billing/documents/%Y/%m/", blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    issued_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-sequence"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "sequence"], name="document_sequence_per_org"
            ),
            models.UniqueConstraint(
                fields=["organization", "kind", "period_start"],
                condition=models.Q(kind="statement"),
                name="document_one_statement_per_period",
            ),
        ]

    def __str__(self) -> str:
        return self.number

    def save(self, *args: object, **kwargs: object) -> None:
        if self.pk and Document.objects.filter(pk=self.pk, issued_at__isnull=False).exists():
            raise ValidationError("An issued document is immutable.")
        super().save(*args, **kwargs)

    @property
    def number(self) -> str:
        prefix = "R" if self.kind == DocumentKind.RECEIPT else "S"
        return f"{self.organization.slug.upper()}-{prefix}{self.sequence:05d}"

    @property
    def is_issued(self) -> bool:
        return self.issued_at is not None


class LowBalanceAlert(models.Model):
    organization = models.OneToOneField(
        Organization, on_delete=models.CASCADE, related_name="low_balance_alert"
    )
    enabled = models.BooleanField(default=False)
    threshold_microdollars = models.BigIntegerField(default=50_000_000)  # $50
    recipients = models.JSONField(default=list, blank=True, help_text="Email addresses.")
    # True while the balance is below the threshold and the email for this crossing went out.
    alerted = models.BooleanField(default=False)
    last_alerted_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Low-balance alert of {self.organization}"


class AutoTopUp(models.Model):
    organization = models.OneToOneField(
        Organization, on_delete=models.CASCADE, related_name="auto_top_up"
    )
    enabled = models.BooleanField(default=False)
    threshold_microdollars = models.BigIntegerField(default=20_000_000)  # $20
    amount_cents = models.PositiveIntegerField(default=100_00)
    # "At most once per period": the period is the calendar month in the org's time zone.
    last_charged_period = models.CharField(max_length=7, blank=True, help_text="YYYY-MM")
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=500, blank=True)
    # The request key of the settings form last saved: the same form submitted again changes
    # nothing and records nothing.
    request_key = models.CharField(max_length=64, unique=True, null=True, blank=True)

    def __str__(self) -> str:
        return f"Auto top-up of {self.organization}"


class SeatCharge(models.Model):
    """Money taken for seats or a plan (first payment, seats added, an upgrade), with its
    receipt. Recorded by the subscriptions app in the transaction that applies the change the
    money bought; the statement lists it under "Seat charges"."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="seat_charges"
    )
    stripe_ref = models.CharField(
        max_length=255, unique=True, help_text="The invoice (Stripe) or PaymentIntent that paid."
    )
    description = models.CharField(max_length=255)
    lines = models.JSONField(default=list, help_text='[{"description": ..., "amount_cents": ...}]')
    amount_cents = models.IntegerField()
    currency = models.CharField(max_length=3, default="usd")
    charged_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    document = models.OneToOneField(
        Document, on_delete=models.PROTECT, null=True, blank=True, related_name="seat_charge"
    )

    class Meta:
        ordering = ["-charged_at", "-id"]
        indexes = [models.Index(fields=["organization", "charged_at"], name="seatcharge_org_time")]

    def __str__(self) -> str:
        return f"{self.description} · {self.amount_cents}¢"
