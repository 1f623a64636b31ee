from django.contrib import admin

from .models import CatalogModel, CatalogSync, GatewayStanding, ModelPolicy, ModelPrice, Provider


@admin.register(Provider)
class ProviderAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "headquarters", "trains_on_prompts", "retains_prompts")
    list_filter = ("trains_on_prompts", "retains_prompts", "can_publish")
    search_fields = ("name", "slug")


class ModelPriceInline(admin.TabularInline):
    model = ModelPrice
    extra = 0
    readonly_fields = ("effective_from", "input", "output", "cache_read", "cache_write")
    can_delete = False


@admin.register(CatalogModel)
class CatalogModelAdmin(admin.ModelAdmin):
    list_display = ("model_id", "provider", "context_length", "input_price", "removed_at")
    list_filter = ("open_weights", "reasoning", "removed_at")
    search_fields = ("model_id", "name", "provider__slug")
    list_select_related = ("provider",)
    inlines = [ModelPriceInline]


@admin.register(CatalogSync)
class CatalogSyncAdmin(admin.ModelAdmin):
    list_display = ("started_at", "status", "source", "models_added", "prices_changed")
    list_filter = ("status",)
    readonly_fields = [f.name for f in CatalogSync._meta.fields]


@admin.register(ModelPolicy)
class ModelPolicyAdmin(admin.ModelAdmin):
    list_display = ("organization", "allow_new_models", "default_model", "updated_at")
    # Edits go through providers.services (audited); the admin is for looking.
    readonly_fields = ("organization", "allow", "deny", "allow_new_models", "default_model")


@admin.register(GatewayStanding)
class GatewayStandingAdmin(admin.ModelAdmin):
    list_display = ("organization", "has_credit", "updated_at")
    readonly_fields = ("organization", "has_credit")
