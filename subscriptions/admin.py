from django.contrib import admin

from .models import ChangeIntent, Subscription, SubscriptionChange


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    list_display = ("organization", "plan", "interval", "quantity", "status", "current_period_end")
    list_filter = ("plan", "interval", "status", "cancel_at_period_end")
    search_fields = ("organization__name", "organization__slug", "stripe_id")
    readonly_fields = [f.name for f in Subscription._meta.fields]


@admin.register(SubscriptionChange)
class SubscriptionChangeAdmin(admin.ModelAdmin):
    """Drift repaired from Stripe shows as kind "Corrected from Stripe" (filter by it)."""

    list_display = (
        "created_at",
        "organization",
        "kind",
        "from_quantity",
        "to_quantity",
        "amount_cents",
        "note",
    )
    list_filter = ("kind",)
    search_fields = ("organization__slug", "actor_email", "stripe_ref")
    readonly_fields = [f.name for f in SubscriptionChange._meta.fields]

    def has_add_permission(self, request) -> bool:  # noqa: ANN001
        return False


@admin.register(ChangeIntent)
class ChangeIntentAdmin(admin.ModelAdmin):
    """Changes at once and where they stand; "Needs an operator" lists what no task could finish."""

    list_display = (
        "created_at",
        "organization",
        "kind",
        "state",
        "from_quantity",
        "to_quantity",
        "amount_cents",
        "attempts",
    )
    list_filter = ("state", "kind")
    search_fields = ("organization__slug", "payment_intent_id", "stripe_ref", "actor_email")
    readonly_fields = [f.name for f in ChangeIntent._meta.fields]

    def has_add_permission(self, request) -> bool:  # noqa: ANN001
        return False
