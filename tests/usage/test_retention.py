"""De-duplication keys go with their events' retention, so their table stays bounded."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.conf import settings
from django.db import connection

from usage.ingest import ingest_events
from usage.models import IngestedRequest, UsageEvent
from usage.partitions import ensure_partitions
from usage.tasks import maintain_partitions

from .conftest import make_event

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def partitions_of(table: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = %s ORDER BY 1",
            [table],
        )
        return [name for (name,) in cursor.fetchall()]


def test_a_months_keys_are_dropped_with_its_events_and_its_events_then_refused_as_too_old(
    org, member
):
    retention = timedelta(days=settings.USAGE_RETENTION_DAYS)  # 400 days
    with time_machine.travel(NOW, tick=False):
        # Partitions for every month of the retention period (the migration made 13 back).
        ensure_partitions(NOW.date(), months_back=14, months_ahead=3)
        old = make_event(request_id="old", occurred_at=NOW - retention + timedelta(days=1))
        recent = make_event(request_id="recent", occurred_at=NOW - timedelta(days=1))
        assert ingest_events(organization_id=org.pk, events=[old, recent]).accepted == 2
    # 2025-10-27 (400 - 1 days before NOW) lies in October 2025.
    assert "usage_ingestedrequest_y2025m10" in partitions_of("usage_ingestedrequest")

    later = NOW + timedelta(days=35)  # the cutoff, 400 days back, is then in December 2025
    with time_machine.travel(later, tick=False):
        result = maintain_partitions()  # the daily task
        # October and November 2025 go, events and keys together; November 2026 stays.
        assert {"usage_usageevent_y2025m10", "usage_ingestedrequest_y2025m10"} <= set(
            result["dropped"]
        )
        assert "usage_ingestedrequest_y2025m12" not in result["dropped"]
        assert list(IngestedRequest.objects.values_list("request_id", flat=True)) == ["recent"]
        assert list(UsageEvent.objects.values_list("request_id", flat=True)) == ["recent"]
        # The dropped key's event is older than retention: refused, never stored twice; the
        # kept key still refuses its retry.
        again = ingest_events(organization_id=org.pk, events=[old, recent])
    assert (again.accepted, again.duplicate, again.rejected) == (0, 1, 1)
    assert again.errors[0].reason == "is older than the retention period"
