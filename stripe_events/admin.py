from django.contrib import admin
from django.http import HttpRequest

from .models import StripeEvent


@admin.register(StripeEvent)
class StripeEventAdmin(admin.ModelAdmin):
    """Looked at here (what arrived, what failed and why); changed only by the services."""

    list_display = ("received_at", "type", "stripe_id", "status", "attempts", "error_short")
    list_filter = ("status", "type")
    search_fields = ("stripe_id", "object_id")

    @admin.display(description="error")
    def error_short(self, obj: StripeEvent) -> str:
        return obj.error[:80]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
