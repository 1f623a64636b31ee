from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.http import HttpRequest
from django.template.response import TemplateResponse

from audit.services import Actor
from kilo_dashboard.money import format_cents as cents

from . import refunds
from .forms import StaffRefundForm
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
    def refund_in_full(self, request: HttpRequest, queryset) -> TemplateResponse | None:  # noqa: ANN001
        """First a page that shows, per payment, what is left and how much of it is unspent
        credit; then the refunds: the unspent part, or (ticked, with a reason) all of it."""
        payments = list(
            queryset.filter(status=PaymentStatus.SUCCEEDED).select_related("organization")
        )
        form = StaffRefundForm(request.POST if "confirm" in request.POST else None)
        if not form.is_bound or not form.is_valid():
            return self._refund_page(request, queryset, payments, form)
        anyway = form.cleaned_data["refund_anyway"]
        for payment in payments:
            self._refund_one(request, payment, anyway, form.cleaned_data["reason"])
        return None

    def _refund_page(self, request: HttpRequest, queryset, payments, form) -> TemplateResponse:  # noqa: ANN001
        rows = [
            {
                "payment": payment,
                "left": payment.amount_cents - payment.refund_reserved_cents,
                "unspent": refunds.refundable_cents(payment),
            }
            for payment in payments
        ]
        context = {
            **self.admin_site.each_context(request),
            "title": "Refund the rest of the selected payments",
            "opts": self.model._meta,
            "queryset": queryset,
            "rows": rows,
            "form": form,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/billing/payment/refund_rest.html", context)

    def _refund_one(
        self, request: HttpRequest, payment: Payment, anyway: bool, reason: str
    ) -> None:
        left = payment.amount_cents - payment.refund_reserved_cents
        amount = left if anyway else refunds.refundable_cents(payment)
        if amount <= 0:
            self.message_user(
                request,
                f"{payment}: nothing refunded: {cents(left)} is left of the payment but none of "
                "its credit is unspent. Tick “refund anyway” and write why to refund it.",
                messages.WARNING,
            )
            return
        try:
            refund = refunds.payment_refund(
                actor=Actor.from_request(request),
                payment=payment,
                amount_cents=amount,
                # The same action submitted twice on the same state is one refund.
                request_key=f"admin-{payment.public_id}-{payment.refund_reserved_cents}-{amount}",
                beyond_balance_reason=reason if anyway else "",
            )
        except Exception as error:  # noqa: BLE001 - report each failure to the operator
            self.message_user(request, f"{payment}: {error}", messages.ERROR)
            return
        capped = "" if amount == left else f" (the unspent credit; {cents(left)} was left)"
        if refund.state == RefundState.SUCCEEDED:
            self.message_user(request, f"Refunded {cents(amount)} of {payment}{capped}.")
        else:
            self.message_user(
                request,
                f"Refund of {cents(amount)} of {payment}{capped} requested; Stripe has not "
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
