from django.contrib import admin

from .models import PendingChange, Subscription, SubscriptionChange


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    list_display = ("organization", "plan", "interval", "quantity", "status", "current_period_end")
    list_filter = ("plan", "interval", "status", "cancel_at_period_end")
    search_fields = ("organization__name", "organization__slug", "stripe_id")
    readonly_fields = [f.name for f in Subscription._meta.fields]


@admin.register(SubscriptionChange)
class SubscriptionChangeAdmin(admin.ModelAdmin):
    list_display = (
        "created_at",
        "organization",
        "kind",
        "from_quantity",
        "to_quantity",
        "amount_cents",
    )
    list_filter = ("kind",)
    search_fields = ("organization__slug", "actor_email", "stripe_ref")
    readonly_fields = [f.name for f in SubscriptionChange._meta.fields]

    def has_add_permission(self, request) -> bool:  # noqa: ANN001
        return False


@admin.register(PendingChange)
class PendingChangeAdmin(admin.ModelAdmin):
    list_display = (
        "created_at",
        "organization",
        "kind",
        "add_seats",
        "amount_cents",
        "completed_at",
    )
    readonly_fields = [f.name for f in PendingChange._meta.fields]
