"""Input parsing for the Billing tab. Dollars typed by people become integer cents here,
through kilo_dashboard.money (DollarsField)."""

from datetime import date

from django import forms
from django.core.validators import validate_email

from kilo_dashboard.money import format_whole_cents
from kilo_dashboard.money_fields import DollarsField
from kilo_dashboard.request_keys import RequestKeyField

from .models import LedgerKind
from .services import MAX_PURCHASE_CENTS, MIN_PURCHASE_CENTS, PRESET_PURCHASES_CENTS

RANGE_MESSAGE = "Choose an amount between $10 and $10,000."
MAX_THRESHOLD_CENTS = 1_000_000_00  # a million dollars: beyond that a threshold is a typo


class BuyCreditsForm(forms.Form):
    preset = forms.TypedChoiceField(
        choices=[(str(c), format_whole_cents(c)) for c in PRESET_PURCHASES_CENTS]
        + [("custom", "Other")],
        required=False,
    )
    custom_amount = DollarsField(
        required=False,
        min_cents=MIN_PURCHASE_CENTS,
        max_cents=MAX_PURCHASE_CENTS,
        range_message=RANGE_MESSAGE,
        label="Other amount (USD)",
    )
    # Set only by the confirmation page: the amount, in cents, the person saw and confirmed.
    confirm_cents = forms.IntegerField(required=False, min_value=0, widget=forms.HiddenInput)
    # Also set only by the confirmation page: its one-time key, bound to that amount.
    request_key = RequestKeyField(required=False)

    def clean(self) -> dict:
        data = super().clean()
        preset = data.get("preset")
        if self.errors.get("custom_amount"):
            raise forms.ValidationError(self.errors["custom_amount"][0])
        if data.get("custom_amount") is not None:  # a typed amount wins over the default preset
            data["amount_cents"] = data["custom_amount"]
        elif preset and preset != "custom":
            data["amount_cents"] = int(preset)
        else:
            raise forms.ValidationError(RANGE_MESSAGE)
        if not MIN_PURCHASE_CENTS <= data["amount_cents"] <= MAX_PURCHASE_CENTS:
            raise forms.ValidationError(RANGE_MESSAGE)
        return data


class StaffRefundForm(forms.Form):
    """Django admin's "Refund the rest": the unspent credit, or everything with a reason."""

    refund_anyway = forms.BooleanField(
        required=False,
        label="Refund anyway, beyond the unspent credit (the balance goes below zero)",
    )
    reason = forms.CharField(
        required=False,
        max_length=500,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        label="Why (required to refund anyway; recorded with the refund and in the audit log)",
    )

    def clean(self) -> dict:
        data = super().clean()
        if data.get("refund_anyway") and not data.get("reason"):
            raise forms.ValidationError(
                "Write why the refund goes beyond the unspent credit, or untick “refund anyway”."
            )
        return data


class PromotionForm(forms.Form):
    code = forms.CharField(max_length=40, label="Promotion code")


class CardConfirmForm(forms.Form):
    setup_intent = forms.RegexField(regex=r"^seti_[A-Za-z0-9_]+$", max_length=255)


class LowBalanceAlertForm(forms.Form):
    enabled = forms.BooleanField(required=False, label="Email when the balance falls below")
    threshold = DollarsField(min_cents=0, max_cents=MAX_THRESHOLD_CENTS, label="Threshold (USD)")
    recipients = forms.CharField(
        required=False,
        label="Recipients",
        help_text="Comma-separated emails; empty means the owners.",
        widget=forms.TextInput,
    )

    def clean_recipients(self) -> list[str]:
        emails = [
            e.strip().lower() for e in self.cleaned_data["recipients"].split(",") if e.strip()
        ]
        if len(emails) > 20:
            raise forms.ValidationError("At most 20 recipients.")
        for email in emails:
            try:
                validate_email(email)
            except forms.ValidationError:
                raise forms.ValidationError(f"“{email}” is not an email address.") from None
        return emails


class AutoTopUpForm(forms.Form):
    enabled = forms.BooleanField(required=False, label="Top up automatically")
    threshold = DollarsField(
        min_cents=0, max_cents=MAX_THRESHOLD_CENTS, label="When the balance falls below (USD)"
    )
    amount = DollarsField(
        min_cents=MIN_PURCHASE_CENTS,
        max_cents=MAX_PURCHASE_CENTS,
        range_message="The top-up amount must be between $10 and $10,000.",
        label="Buy (USD)",
    )
    # The tab's one-time key for this form: the same form submitted twice is saved once.
    request_key = RequestKeyField(required=False)


class BillingDetailsForm(forms.Form):
    email = forms.EmailField(label="Billing email")
    name = forms.CharField(max_length=200, label="Company name")
    line1 = forms.CharField(max_length=200, required=False, label="Address")
    line2 = forms.CharField(max_length=200, required=False, label="Address (line 2)")
    postal_code = forms.CharField(max_length=20, required=False, label="Postal code")
    city = forms.CharField(max_length=100, required=False)
    state = forms.CharField(max_length=100, required=False, label="State or region")
    country = forms.RegexField(
        regex=r"^[A-Za-z]{2}$", required=False, max_length=2, label="Country (2-letter code)"
    )
    tax_id = forms.CharField(max_length=64, required=False, label="Tax ID (e.g. VAT number)")

    def address(self) -> dict:
        data = self.cleaned_data
        return {
            "line1": data["line1"],
            "line2": data["line2"],
            "postal_code": data["postal_code"],
            "city": data["city"],
            "state": data["state"],
            "country": data["country"].upper(),
        }


# The purchase history lists ledger entries and, from the Subscriptions app, subscription changes.
HISTORY_KIND_CHOICES = [
    ("", "All kinds"),
    *LedgerKind.choices,
    ("subscription", "Subscription change"),
]


# Wide enough for any real history, narrow enough that a day's bounds in any time zone exist
# (0001-01-01 or 9999-12-31 overflow when turned into an instant).
HISTORY_EARLIEST = date(2000, 1, 1)
HISTORY_LATEST = date(2100, 12, 31)
_OUT_OF_RANGE = f"Enter a date between {HISTORY_EARLIEST} and {HISTORY_LATEST}."


class HistoryFilterForm(forms.Form):
    kind = forms.ChoiceField(choices=HISTORY_KIND_CHOICES, required=False)
    date_from = forms.DateField(required=False, label="From")
    date_to = forms.DateField(required=False, label="To")
    page = forms.IntegerField(required=False, min_value=1)

    def _within_bounds(self, name: str) -> date | None:
        value = self.cleaned_data.get(name)
        if value and not HISTORY_EARLIEST <= value <= HISTORY_LATEST:
            raise forms.ValidationError(_OUT_OF_RANGE)
        return value

    def clean_date_from(self) -> date | None:
        return self._within_bounds("date_from")

    def clean_date_to(self) -> date | None:
        return self._within_bounds("date_to")

    def clean(self) -> dict:
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            raise forms.ValidationError(f"“From” ({start}) is after “To” ({end}).")
        return data

    def error_messages_text(self) -> list[str]:
        """Every error as one sentence naming its field, for the line above the history."""
        labels = {name: field.label or name.capitalize() for name, field in self.fields.items()}
        return [
            f"{labels[name]}: {message}" if name in labels else message
            for name, messages in self.errors.items()
            for message in messages
        ]
