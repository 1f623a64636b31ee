"""POST /api/v1/usage/events: authentication, validation of every field, duplicates, limits."""

import json
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from audit.services import Actor
from tests.conftest import actor
from usage.models import IngestedRequest, IngestKey, UsageEvent
from usage.services import ingest_key_create, ingest_key_revoke

from .conftest import make_event, post_events

pytestmark = pytest.mark.django_db


def test_valid_batch_is_stored_and_counted(member, ingest_key):
    events = [make_event(), make_event(user_email="MEMBER@acme.test")]
    response = post_events(Client(), ingest_key, events)
    assert response.status_code == 200
    assert response.json() == {"accepted": 2, "duplicate": 0, "rejected": 0, "errors": []}
    assert UsageEvent.objects.count() == 2
    stored = UsageEvent.objects.first()
    assert stored.user_id == member.pk and stored.user_email == "member@acme.test"


def test_cost_is_computed_from_the_catalog_when_omitted(member, ingest_key):
    # claude-sonnet-4-5: $3 / M input, $15 / M output, $0.30 / M cache read, $3.75 / M cache write.
    event = make_event(
        input_tokens=1000, output_tokens=200, cache_read_tokens=10, cache_write_tokens=3
    )
    post_events(Client(), ingest_key, [event])
    stored = UsageEvent.objects.get()
    assert stored.cost_microdollars == 3000 + 3000 + 3 + 11  # 11.25 rounds half-up to 11
    assert stored.cost_from_catalog is True


def test_a_given_cost_is_kept_as_sent(member, ingest_key):
    post_events(Client(), ingest_key, [make_event(cost_microdollars=1234)])
    stored = UsageEvent.objects.get()
    assert stored.cost_microdollars == 1234 and stored.cost_from_catalog is False


def test_ndjson_body_is_accepted(member, ingest_key):
    body = "\n".join(json.dumps(make_event()) for _ in range(3)) + "\n"
    response = post_events(Client(), ingest_key, body, content_type="application/x-ndjson")
    assert response.status_code == 200
    assert response.json()["accepted"] == 3


INVALID = [
    ("request_id", ..., "is required"),
    ("request_id", 42, "must be a string"),
    ("request_id", "x" * 129, "at most 128"),
    ("occurred_at", ..., "is required"),
    ("occurred_at", "yesterday", "ISO 8601"),
    ("occurred_at", "2026-11-20T10:00:00", "time zone"),
    ("occurred_at", "2999-01-01T00:00:00Z", "future"),
    ("occurred_at", "2001-01-01T00:00:00Z", "retention"),
    ("occurred_at", 1700000000, "ISO 8601"),
    ("user_email", ..., "is required"),
    ("user_email", "nobody@acme.test", "not a member"),
    ("user_email", ["member@acme.test"], "must be a string"),
    ("model", ..., "is required"),
    ("model", "m" * 129, "at most 128"),
    ("provider", ..., "is required"),
    ("provider", 7, "must be a string"),
    ("feature", "f" * 65, "at most 64"),
    ("project", {"a": 1}, "must be a string"),
    ("input_tokens", ..., "is required"),
    ("input_tokens", -1, "between 0"),
    ("input_tokens", 1.5, "whole number"),
    ("input_tokens", "100", "whole number"),
    ("output_tokens", ..., "is required"),
    ("output_tokens", True, "whole number"),
    ("cache_read_tokens", -5, "between 0"),
    ("cache_write_tokens", "many", "whole number"),
    ("cost_microdollars", -1, "between 0"),
    ("cost_microdollars", 0.5, "whole number"),
    ("latency_ms", ..., "is required"),
    ("latency_ms", 3_600_001, "between 0"),
    ("status", ..., "success"),
    ("status", "ok", "success"),
    ("error_code", "boom", "only allowed"),
    ("model", "no-such-model", "no catalog price"),
]


@pytest.mark.parametrize(
    ("field", "value", "reason"), INVALID, ids=[f"{f}-{r}" for f, _, r in INVALID]
)
def test_every_invalid_field_is_rejected_with_index_and_reason(
    field, value, reason, member, ingest_key
):
    good = make_event()
    bad = make_event(**{field: value})
    response = post_events(Client(), ingest_key, [good, bad])
    assert response.status_code == 200
    body = response.json()
    assert body["accepted"] == 1 and body["rejected"] == 1
    [error] = body["errors"]
    assert error["index"] == 1
    assert error["field"] == field
    assert reason in error["reason"]
    assert list(UsageEvent.objects.values_list("request_id", flat=True)) == [good["request_id"]]


def test_an_unknown_model_is_fine_when_the_cost_is_sent(member, ingest_key):
    response = post_events(
        Client(), ingest_key, [make_event(model="in-house-7b", cost_microdollars=10)]
    )
    assert response.json()["accepted"] == 1


def test_error_events_carry_their_code(member, ingest_key):
    post_events(Client(), ingest_key, [make_event(status="error", error_code="timeout")])
    assert UsageEvent.objects.get().error_code == "timeout"


def test_a_non_object_entry_is_rejected(member, ingest_key):
    body = post_events(Client(), ingest_key, [make_event(), "nope", 3]).json()
    assert body["accepted"] == 1 and body["rejected"] == 2
    assert [e["index"] for e in body["errors"]] == [1, 2]


def test_duplicates_inside_a_batch_and_across_batches(member, ingest_key):
    first = make_event(request_id="same")
    body = post_events(Client(), ingest_key, [first, first]).json()
    assert (body["accepted"], body["duplicate"]) == (1, 1)
    body = post_events(Client(), ingest_key, [first, make_event()]).json()  # a retry
    assert (body["accepted"], body["duplicate"]) == (1, 1)
    assert UsageEvent.objects.filter(request_id="same").count() == 1
    assert UsageEvent.objects.count() == 2


@time_machine.travel(datetime(2026, 11, 30, 12, 0, tzinfo=UTC), tick=False)
def test_a_retry_is_known_by_request_id_and_utc_day_of_the_event(member, ingest_key):
    at = datetime(2026, 11, 29, 23, 59, 59, tzinfo=UTC)
    sent = make_event(request_id="r", occurred_at=at)
    assert post_events(Client(), ingest_key, [sent]).json()["accepted"] == 1
    same_day = make_event(request_id="r", occurred_at=at - timedelta(hours=23, minutes=59))
    next_day = make_event(request_id="r", occurred_at=at + timedelta(seconds=1))
    body = post_events(Client(), ingest_key, [same_day, next_day]).json()
    # 00:00:59 on Nov 29 is the same key as 23:59:59; 00:00:00 on Nov 30 is another event.
    assert (body["accepted"], body["duplicate"]) == (1, 1)
    assert sorted(
        IngestedRequest.objects.filter(request_id="r").values_list("occurred_on", flat=True)
    ) == [date(2026, 11, 29), date(2026, 11, 30)]


def test_the_same_request_id_in_two_organizations_is_two_events(
    member, ingest_key, other_org, outsider
):
    _, other_key = ingest_key_create(actor=actor(outsider), organization=other_org, name="K")
    post_events(Client(), ingest_key, [make_event(request_id="r1")])
    body = post_events(
        Client(), other_key, [make_event(request_id="r1", user_email="boss@initech.test")]
    ).json()
    assert body["accepted"] == 1
    assert IngestedRequest.objects.filter(request_id="r1").count() == 2


def test_one_organizations_key_cannot_report_another_organizations_member(
    member, outsider, ingest_key
):
    body = post_events(Client(), ingest_key, [make_event(user_email="boss@initech.test")]).json()
    assert body["rejected"] == 1 and "not a member" in body["errors"][0]["reason"]
    assert not UsageEvent.objects.exists()


@pytest.mark.parametrize("header", [None, "Bearer nope", "Basic abc", "Bearer "])
def test_missing_or_wrong_key_is_401(header, member, ingest_key):
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    response = Client().post(
        "/api/v1/usage/events",
        data=json.dumps([make_event()]),
        content_type="application/json",
        **extra,
    )
    assert response.status_code == 401
    assert not UsageEvent.objects.exists()


def test_revoked_key_is_401(org, owner, member, ingest_key):
    key = IngestKey.objects.get()
    ingest_key_revoke(actor=Actor(user=owner), organization=org, public_id=key.public_id)
    assert post_events(Client(), ingest_key, [make_event()]).status_code == 401
    assert not UsageEvent.objects.exists()


@pytest.mark.parametrize(
    "body", [b"[{", b"", b'{"a": 1}\n{oops', b"\xff\xfe", b'{"just": "an object"} x']
)
def test_malformed_bodies_are_400_and_store_nothing(body, member, ingest_key):
    response = post_events(Client(), ingest_key, body)
    assert response.status_code == 400
    assert response.json()["detail"]
    assert not UsageEvent.objects.exists()


def test_a_json_value_that_is_not_an_array_is_400(member, ingest_key):
    assert post_events(Client(), ingest_key, b"[1] [2]").status_code == 400


def test_more_than_1000_events_is_413(member, ingest_key):
    response = post_events(Client(), ingest_key, [make_event() for _ in range(1001)])
    assert response.status_code == 413
    assert not UsageEvent.objects.exists()


def test_an_oversized_body_is_413(member, ingest_key, settings):
    settings.USAGE_INGEST_MAX_BYTES = 500
    response = post_events(Client(), ingest_key, [make_event(), make_event(), make_event()])
    assert response.status_code == 413
    assert not UsageEvent.objects.exists()


def test_past_the_rate_limit_is_429_with_retry_after(member, ingest_key, settings):
    settings.USAGE_INGEST_RATE_LIMIT_PER_MINUTE = 2
    client = Client()
    assert post_events(client, ingest_key, [make_event()]).status_code == 200
    assert post_events(client, ingest_key, [make_event()]).status_code == 200
    response = post_events(client, ingest_key, [make_event()])
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 60
    assert UsageEvent.objects.count() == 2


def test_using_a_key_records_its_last_use(member, ingest_key):
    post_events(Client(), ingest_key, [make_event()])
    assert IngestKey.objects.get().last_used_at is not None


def test_events_from_long_ago_within_retention_land_in_a_partition(member, ingest_key):
    old = timezone.now() - timedelta(days=200)
    assert post_events(Client(), ingest_key, [make_event(occurred_at=old)]).json()["accepted"] == 1


def test_openapi_schema_describes_the_endpoint():
    schema = Client().get("/api/v1/openapi.json").json()
    operation = schema["paths"]["/api/v1/usage/events"]["post"]
    assert set(operation["responses"]) >= {"200", "400", "401", "413", "429"}
    items = operation["requestBody"]["content"]["application/json"]["schema"]["items"]
    assert {"request_id", "occurred_at", "user_email", "cost_microdollars"} <= set(
        items["properties"]
    )
    assert "application/x-ndjson" in operation["requestBody"]["content"]
    assert operation["security"]


def test_docs_page_is_readable_and_loads_nothing_from_elsewhere():
    response = Client().get("/api/v1/docs")
    assert response.status_code == 200
    html = response.content.decode()
    assert "/api/v1/usage/events" in html and "cost_microdollars" in html
    assert "cdn" not in html.lower() and "https://" not in html
