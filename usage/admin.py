from django.contrib import admin

from .models import IngestKey, RollupState


@admin.register(IngestKey)
class IngestKeyAdmin(admin.ModelAdmin):
    list_display = ("name", "organization", "prefix", "created_at", "last_used_at", "revoked_at")
    list_filter = ("revoked_at",)
    search_fields = ("name", "prefix", "organization__slug")
    readonly_fields = (
        "public_id",
        "prefix",
        "key_hash",
        "created_by",
        "created_at",
        "last_used_at",
    )


@admin.register(RollupState)
class RollupStateAdmin(admin.ModelAdmin):
    list_display = ("pk", "last_event_id", "updated_at")
    readonly_fields = ("last_event_id", "updated_at")
