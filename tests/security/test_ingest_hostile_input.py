"""Ingestion never answers 500 (issue 9, items 4 and 5): a bad event is rejected with a reason and
the rest of the batch is stored; a body that cannot be read at all is a 400."""

import json

import pytest
from django.test import Client

from tests.conftest import actor
from tests.usage.conftest import make_event, post_events
from usage.models import UsageEvent
from usage.services import ingest_key_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def ingest_key(org, owner, member) -> str:
    _, secret = ingest_key_create(actor=actor(owner), organization=org, name="Gateway")
    return secret


def _post(key: str, body, content_type: str = "application/json"):  # noqa: ANN001, ANN202
    response = post_events(Client(), key, body, content_type)
    assert response.status_code != 500
    return response


@pytest.mark.parametrize("field", ["request_id", "model", "user_email", "provider", "project"])
@pytest.mark.parametrize("bad", ["a\x00b", "\ud800", "line\r\nbreak"])
def test_an_unstorable_character_rejects_that_event_and_the_rest_is_stored(field, bad, ingest_key):
    poisoned = make_event(**{field: bad})
    response = _post(ingest_key, [make_event(), poisoned, make_event()])
    assert response.status_code == 200
    body = response.json()
    assert (body["accepted"], body["rejected"]) == (2, 1)
    assert body["errors"] == [
        {"index": 1, "field": field, "reason": "must not contain control characters (such as NUL)"}
    ]
    assert UsageEvent.objects.count() == 2


@pytest.mark.parametrize(
    "body",
    [
        "[" * 1000 + "]" * 1000,
        json.dumps(make_event()) + "\n" + "[" * 1000 + "]" * 1000 + "\n",
        '{"a":' * 1000 + "1" + "}" * 1000,
    ],
    ids=["array", "ndjson-line", "object"],
)
def test_json_nested_a_thousand_deep_is_400(body, ingest_key):
    content_type = "application/x-ndjson" if "\n" in body else "application/json"
    response = _post(ingest_key, body, content_type)
    assert response.status_code == 400
    assert response.json() == {"detail": "Malformed JSON: nested too deeply."}
    assert not UsageEvent.objects.exists()


def test_an_integer_of_5000_digits_rejects_only_its_event(ingest_key):
    good = json.dumps(make_event())
    huge = json.dumps(make_event(input_tokens=0)).replace(
        '"input_tokens": 0', '"input_tokens": ' + "9" * 5000
    )
    response = _post(ingest_key, f"[{good}, {huge}]")
    assert response.status_code == 200
    body = response.json()
    assert (body["accepted"], body["rejected"]) == (1, 1)
    assert body["errors"] == [
        {
            "index": 1,
            "field": "input_tokens",
            "reason": "must be between 0 and 1,000,000,000 (got 5,000 digits)",
        }
    ]


@pytest.mark.parametrize("when", ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59"])
def test_an_instant_outside_the_calendar_rejects_only_its_event(when, ingest_key):
    response = _post(ingest_key, [make_event(occurred_at=when), make_event()])
    assert response.status_code == 200
    body = response.json()
    assert (body["accepted"], body["rejected"]) == (1, 1)
    assert body["errors"] == [{"index": 0, "field": "occurred_at", "reason": "is out of range"}]


def test_a_line_separator_inside_an_ndjson_string_does_not_split_the_line(ingest_key):
    event = make_event(project="a\u2028b")
    body = json.dumps(event, ensure_ascii=False) + "\n" + json.dumps(make_event()) + "\n"
    response = _post(ingest_key, body.encode(), "application/x-ndjson")
    assert response.status_code == 200
    assert response.json()["accepted"] == 2
