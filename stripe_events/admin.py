from datetime import timedelta

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from audit.services import Actor
from billing.admin import ReadOnlyAdmin

from . import replay, services
from .models import StripeEvent, StripeEventStatus


class AttentionFilter(admin.SimpleListFilter):
    """The events an operator has to look at: failed, and how long or how often."""

    title = "needs attention"
    parameter_name = "attention"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple]:
        return [
            ("failed", "Failed"),
            ("failed_over_an_hour", "Failed for over an hour"),
            ("replays_used_up", "Failed, hourly replays used up"),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        failed = queryset.filter(status=StripeEventStatus.FAILED)
        if self.value() == "failed":
            return failed
        if self.value() == "failed_over_an_hour":
            return failed.filter(failed_at__lte=timezone.now() - timedelta(hours=1))
        if self.value() == "replays_used_up":
            return failed.filter(replays__gte=replay.MAX_REPLAYS)
        return queryset


@admin.register(StripeEvent)
class StripeEventAdmin(ReadOnlyAdmin):
    """What arrived, what failed and why; changed only by the services (and "retry now")."""

    list_display = (
        "received_at",
        "type",
        "stripe_id",
        "status",
        "failed_at",
        "attempts",
        "replays",
        "last_error",
    )
    list_filter = (AttentionFilter, "status", "type")
    search_fields = ("stripe_id", "object_id")
    actions = ["retry_now"]

    @admin.display(description="last error")
    def last_error(self, obj: StripeEvent) -> str:
        return obj.error[:200]

    @admin.action(description="Retry now (run the handlers of the selected failed events)")
    def retry_now(self, request: HttpRequest, queryset: QuerySet) -> None:
        retryable = list(
            queryset.filter(status__in=(StripeEventStatus.FAILED, StripeEventStatus.PENDING))
        )
        skipped = queryset.count() - len(retryable)
        for event in retryable:
            status = services.event_retry(actor=Actor.from_request(request), event_pk=event.pk)
            if status == StripeEventStatus.PROCESSED:
                self.message_user(request, f"{event}: processed.")
            else:
                event.refresh_from_db(fields=["error"])
                self.message_user(request, f"{event}: {status}: {event.error}", messages.ERROR)
        if skipped:
            self.message_user(
                request, f"{skipped} selected event(s) were not failed; left alone.", messages.INFO
            )
