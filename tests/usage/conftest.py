"""Fixtures for the usage tests: an ingest key for Acme and a factory of valid events."""

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.utils import timezone

from tests.conftest import actor
from usage.services import ingest_key_create

_ids = itertools.count(1)


@pytest.fixture
def ingest_key(org, owner) -> str:
    _, secret = ingest_key_create(actor=actor(owner), organization=org, name="Gateway")
    return secret


def make_event(**overrides) -> dict:
    occurred = overrides.pop("occurred_at", timezone.now() - timedelta(hours=1))
    if isinstance(occurred, datetime):
        occurred = occurred.astimezone(UTC).isoformat()
    event = {
        "request_id": f"req-{next(_ids)}",
        "occurred_at": occurred,
        "user_email": "member@acme.test",
        "model": "claude-sonnet-4-5",
        "provider": "anthropic",
        "input_tokens": 1000,
        "output_tokens": 200,
        "latency_ms": 1500,
        "status": "success",
    }
    event.update(overrides)
    return {k: v for k, v in event.items() if v is not ...}


def post_events(client: Client, key: str | None, body, content_type: str = "application/json"):
    import json

    headers = {"HTTP_AUTHORIZATION": f"Bearer {key}"} if key else {}
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return client.post("/api/v1/usage/events", data=data, content_type=content_type, **headers)
