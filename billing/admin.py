from django.contrib import admin, messages
from django.http import HttpRequest

from audit.services import Actor
from kilo_dashboard.money import format_cents as cents

from . import refunds
from .models import (
    AutoTopUp,
    BillingAccount,
    CreditLedgerEntry,
    Document,
    LowBalanceAlert,
    Payment,
    PaymentMethod,
    PaymentStatus,
    PromotionCode,
    Redemption,
    Refund,
    RefundState,
    StripeCustomer,
    StripeInvoice,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Mirrors of Stripe and financial records: looked at here, changed only by services."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(CreditLedgerEntry)
class CreditLedgerEntryAdmin(ReadOnlyAdmin):
    list_display = (
        "created_at",
        "effective_date",
        "organization",
        "kind",
        "amount_microdollars",
        "idempotency_key",
    )
    list_filter = ("kind",)
    search_fields = ("organization__slug", "idempotency_key", "description")
    date_hierarchy = "created_at"


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    list_display = (
        "created_at",
        "organization",
        "purpose",
        "amount_cents",
        "status",
        "failure_message",
    )
    list_filter = ("status", "purpose")
    search_fields = ("organization__slug", "stripe_payment_intent_id", "stripe_charge_id")
    actions = ["refund_in_full"]

    @admin.action(description="Refund the rest of the selected payments in Stripe")
    def refund_in_full(self, request: HttpRequest, queryset) -> None:  # noqa: ANN001
        for payment in queryset.filter(status=PaymentStatus.SUCCEEDED):
            remaining = payment.amount_cents - payment.refund_reserved_cents
            if remaining <= 0:
                continue
            try:
                refund = refunds.payment_refund(
                    actor=Actor.from_request(request),
                    payment=payment,
                    amount_cents=remaining,
                    # The same action submitted twice on the same state is one refund.
                    request_key=f"admin-{payment.public_id}-{payment.refund_reserved_cents}",
                )
            except Exception as error:  # noqa: BLE001 - report each failure to the operator
                self.message_user(request, f"{payment}: {error}", messages.ERROR)
            else:
                if refund.state == RefundState.SUCCEEDED:
                    self.message_user(request, f"Refunded {cents(remaining)} of {payment}.")
                else:
                    self.message_user(
                        request,
                        f"Refund of {cents(remaining)} of {payment} requested; Stripe has not "
                        "confirmed it yet (it is finished automatically).",
                        messages.WARNING,
                    )


for model, fields in (
    (StripeCustomer, ("organization", "stripe_id", "email", "created_at")),
    (BillingAccount, ("organization", "balance_microdollars", "updated_at")),
    (PaymentMethod, ("organization", "brand", "last4", "exp_month", "exp_year", "is_default")),
    (Refund, ("organization", "payment", "stripe_id", "amount_cents", "state", "created_at")),
    (StripeInvoice, ("organization", "number", "status", "amount_due_cents", "period_start")),
    (Document, ("organization", "kind", "sequence", "issued_at", "sha256")),
    (Redemption, ("promotion", "organization", "redeemed_by", "created_at")),
):
    admin.site.register(
        model, type(f"{model.__name__}Admin", (ReadOnlyAdmin,), {"list_display": fields})
    )


@admin.register(PromotionCode)
class PromotionCodeAdmin(admin.ModelAdmin):
    list_display = ("code", "amount_microdollars", "expires_at", "max_redemptions", "active")
    list_filter = ("active",)
    search_fields = ("code",)

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False  # redemptions point at it; deactivate instead


@admin.register(LowBalanceAlert, AutoTopUp)
class SettingsAdmin(admin.ModelAdmin):
    list_display = ("organization", "enabled", "threshold_microdollars")
