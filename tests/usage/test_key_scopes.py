"""API key scopes: chosen at creation (usage ingest, gateway, or both), shown in the key list,
audited, and enforced by both APIs with a 403 that says why. Keys made before scopes existed
are "both", so nothing that worked stops working."""

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from audit.models import AuditEvent
from tests.conftest import actor, client_for
from usage.models import IngestKey, UsageEvent
from usage.selectors import ingest_key_for_secret
from usage.services import ingest_key_create

from .conftest import make_event, post_events

pytestmark = pytest.mark.django_db


def gateway_calls(secret: str) -> tuple:
    client = Client()
    headers = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    models = client.get("/api/v1/models", **headers)
    authorize = client.post(
        "/api/v1/authorize",
        json.dumps({"user_email": "member@acme.test", "model": "anthropic/claude-sonnet-4-5"}),
        content_type="application/json",
        **headers,
    )
    return models, authorize


def test_a_key_made_without_a_scope_may_call_both_apis(org, owner, member):
    key, secret = ingest_key_create(actor=actor(owner), organization=org, name="Old style")
    assert key.scope == "both"
    assert post_events(Client(), secret, [make_event()]).status_code == 200
    models, authorize = gateway_calls(secret)
    assert models.status_code == 200 and models.json()["object"] == "list"
    assert authorize.status_code in (200, 402) and "allowed" in authorize.json()


def test_an_ingest_key_is_refused_by_the_gateway_api_with_a_reason(org, owner, member):
    _, secret = ingest_key_create(actor=actor(owner), organization=org, name="CI", scope="ingest")
    assert post_events(Client(), secret, [make_event()]).status_code == 200
    for response in gateway_calls(secret):
        assert response.status_code == 403
        assert response["Content-Type"].startswith("application/json")
        detail = response.json()["detail"]
        assert "may not call the gateway API" in detail and "Usage ingest only" in detail


def test_a_gateway_key_is_refused_by_the_ingest_api_and_stores_nothing(org, owner, member):
    key, secret = ingest_key_create(
        actor=actor(owner), organization=org, name="Gateway", scope="gateway"
    )
    response = post_events(Client(), secret, [make_event()])
    assert response.status_code == 403
    assert "may not call the usage ingest API" in response.json()["detail"]
    assert not UsageEvent.objects.exists()
    models, authorize = gateway_calls(secret)
    assert models.status_code == 200 and authorize.status_code in (200, 402)
    key.refresh_from_db()
    assert key.last_used_at is not None  # the key list shows it in use


def test_an_unknown_key_is_still_a_401_on_both_apis(org):
    assert post_events(Client(), "kilo_ik_nope", [make_event()]).status_code == 401
    assert [r.status_code for r in gateway_calls("kilo_ik_nope")] == [401, 401]


def test_the_scope_is_chosen_on_the_form_shown_in_the_list_and_audited(org, admin):
    client = client_for(admin)
    form = client.get(reverse("usage_ingest_keys", args=[org.slug])).content.decode()
    assert '<select id="ingest-key-scope" name="scope">' in form
    created = client.post(
        reverse("usage_ingest_key_create", args=[org.slug]), {"name": "Edge", "scope": "gateway"}
    )
    assert "Gateway only" in created.content.decode()
    key = IngestKey.objects.get()
    assert key.scope == "gateway"
    listing = client.get(reverse("usage_ingest_keys", args=[org.slug])).content.decode()
    assert "<td>Gateway only</td>" in listing
    event = AuditEvent.objects.get(action="usage.ingest_key.create")
    assert event.after == {"name": "Edge", "prefix": key.prefix, "scope": "gateway"}


def test_an_unknown_scope_creates_no_key(org, owner):
    response = client_for(owner).post(
        reverse("usage_ingest_key_create", args=[org.slug]), {"name": "X", "scope": "admin"}
    )
    assert response.status_code == 302
    assert not IngestKey.objects.exists()
    with pytest.raises(ValueError, match="Unknown key scope"):
        ingest_key_create(actor=actor(owner), organization=org, name="X", scope="admin")
    assert not AuditEvent.objects.filter(action="usage.ingest_key.create").exists()


def test_the_command_takes_a_scope(org):
    out = StringIO()
    call_command(
        "create_ingest_key", "acme", "Edge", "--scope", "gateway", stdout=out, stderr=StringIO()
    )
    assert ingest_key_for_secret(out.getvalue().strip()).scope == "gateway"
