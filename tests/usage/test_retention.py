"""De-duplication keys are pruned with the events' retention, so their table stays bounded."""

from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.utils import timezone

from usage.ingest import ingest_events
from usage.models import IngestedRequest
from usage.partitions import prune_ingested_requests
from usage.tasks import maintain_partitions

from .conftest import make_event

pytestmark = pytest.mark.django_db


def test_keys_older_than_retention_are_pruned_and_their_events_refused_as_too_old(org, member):
    now = timezone.now()
    retention = timedelta(days=settings.USAGE_RETENTION_DAYS)
    old = make_event(request_id="old", occurred_at=now - retention + timedelta(days=1))
    recent = make_event(request_id="recent", occurred_at=now - timedelta(days=1))
    assert ingest_events(organization_id=org.pk, events=[old, recent]).accepted == 2

    with time_machine.travel(now + timedelta(days=2), tick=False):
        result = maintain_partitions()  # the daily task
        assert result["pruned_request_ids"] == 1
        assert list(IngestedRequest.objects.values_list("request_id", flat=True)) == ["recent"]
        # The pruned key's event is now older than retention: refused, never stored twice.
        again = ingest_events(organization_id=org.pk, events=[old, recent])
    assert (again.accepted, again.duplicate, again.rejected) == (0, 1, 1)
    assert again.errors[0].reason == "is older than the retention period"


def test_pruning_works_in_batches(org, member):
    now = timezone.now()
    events = [make_event(occurred_at=now - timedelta(days=10)) for _ in range(7)]
    ingest_events(organization_id=org.pk, events=events)
    assert prune_ingested_requests(now - timedelta(days=5), batch=3) == 7
    assert not IngestedRequest.objects.exists()
