from django.contrib import admin

from .models import Invitation, Membership, Organization


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ("user",)
    readonly_fields = ("joined_at", "last_activity_at")


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "plan", "seat_count", "created_at")
    list_filter = ("plan",)
    search_fields = ("name", "slug", "billing_email")
    inlines = [MembershipInline]


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ("email", "organization", "role", "status", "expires_at")
    list_filter = ("status", "role")
    search_fields = ("email", "organization__slug")
    exclude = ("token_hash",)
    readonly_fields = ("invited_by", "accepted_by", "accepted_at", "revoked_at", "sent_at")
