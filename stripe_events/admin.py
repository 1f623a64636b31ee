from django.contrib import admin

from billing.admin import ReadOnlyAdmin

from .models import StripeEvent


@admin.register(StripeEvent)
class StripeEventAdmin(ReadOnlyAdmin):
    """What arrived, what failed and why; changed only by the services."""

    list_display = ("received_at", "type", "stripe_id", "status", "attempts", "error_short")
    list_filter = ("status", "type")
    search_fields = ("stripe_id", "object_id")

    @admin.display(description="error")
    def error_short(self, obj: StripeEvent) -> str:
        return obj.error[:80]
