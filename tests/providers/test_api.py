"""GET /api/v1/models and POST /api/v1/authorize: reasons, 402, cache invalidation, schema."""

import json

import pytest
from django.db import transaction
from django.test import Client

from billing.balance import ledger_post
from organizations import services as org_services
from organizations.models import Membership, Role
from providers import services
from providers.models import CatalogModel
from tests.conftest import actor, make_user

pytestmark = pytest.mark.django_db

SONNET = "anthropic/claude-sonnet-4-5"
DEEPSEEK = "deepseek/deepseek-chat"


def authorize(key: str, email: str, model: str):
    return Client().post(
        "/api/v1/authorize",
        data=json.dumps({"user_email": email, "model": model}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )


def model_ids(key: str) -> set[str]:
    response = Client().get("/api/v1/models", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "list"
    return {entry["id"] for entry in body["data"]}


@pytest.fixture
def gateway(enterprise, credit, api_key, personas):
    return api_key


def test_a_member_may_use_an_allowed_model(gateway):
    response = authorize(gateway, "Member@Acme.test", SONNET)
    assert response.status_code == 200
    assert response.json() == {
        "allowed": True,
        "reason": "allowed",
        "policy_reason": "",
        "detail": "",
        "user_email": "member@acme.test",
        "model": SONNET,
    }


def test_an_outsider_is_not_a_member(gateway):
    body = authorize(gateway, "boss@initech.test", SONNET).json()
    assert (body["allowed"], body["reason"]) == (False, "not_a_member")


def test_a_member_beyond_the_seat_count_has_no_seat(gateway, org):
    # Seats go to owners, then admins, then members by joining date: with 2 seats the owner
    # and the admin keep theirs and the member has none.
    org.seat_count = 2
    org.save(update_fields=["seat_count"])
    from organizations.gate import gate_changed

    gate_changed(org.pk)  # what subscriptions.organization_plan_sync does after a change
    assert authorize(gateway, "member@acme.test", SONNET).json()["reason"] == "no_seat"
    assert authorize(gateway, "admin@acme.test", SONNET).json()["allowed"] is True


def test_a_disabled_model_and_provider(gateway, org, owner):
    services.model_policy_bulk_set(
        actor=actor(owner), organization=org, keys=[SONNET], enable=False
    )
    body = authorize(gateway, "member@acme.test", SONNET).json()
    assert (body["reason"], body["policy_reason"]) == ("model_not_allowed", "model_not_allowed")
    assert SONNET not in model_ids(gateway)

    services.model_policy_update(
        actor=actor(owner),
        organization=org,
        allow="*",
        deny="anthropic/*",
        allow_new_models=True,
        default_model="",
    )
    body = authorize(gateway, "member@acme.test", "anthropic/claude-opus-4-1").json()
    assert body["reason"] == "provider_not_allowed"


def test_an_unknown_model_is_not_allowed(gateway):
    body = authorize(gateway, "member@acme.test", "anthropic/claude-99").json()
    assert (body["reason"], body["policy_reason"]) == ("model_not_allowed", "not_in_catalog")


def test_the_opt_out_excludes_a_training_provider_until_turned_off(gateway, org, owner):
    assert org.code_training_opt_out  # the default
    body = authorize(gateway, "member@acme.test", DEEPSEEK).json()
    assert (body["reason"], body["policy_reason"]) == (
        "provider_trains_on_prompts",
        "provider_trains_on_prompts",
    )
    assert DEEPSEEK not in model_ids(gateway)
    org_services.organization_update_policies(
        actor=actor(owner), organization=org, code_training_opt_out=False, usage_analytics=True
    )
    assert authorize(gateway, "member@acme.test", DEEPSEEK).json()["allowed"] is True
    assert DEEPSEEK in model_ids(gateway)


def test_exhausted_credits_answer_402(enterprise, api_key, personas):
    response = authorize(api_key, "member@acme.test", SONNET)  # no credit was ever bought
    assert response.status_code == 402
    assert response.json()["reason"] == "credits_exhausted"


def test_credit_running_out_and_coming_back_is_seen_at_once(gateway, org):
    assert authorize(gateway, "member@acme.test", SONNET).status_code == 200
    with transaction.atomic():
        ledger_post(
            organization=org, kind="usage", amount_microdollars=-50_000_000, idempotency_key="u1"
        )
    assert authorize(gateway, "member@acme.test", SONNET).status_code == 402
    with transaction.atomic():
        ledger_post(
            organization=org, kind="promotional", amount_microdollars=1, idempotency_key="p2"
        )
    assert authorize(gateway, "member@acme.test", SONNET).status_code == 200


def test_a_removed_member_is_refused_at_once(gateway, org, owner, member):
    assert authorize(gateway, "member@acme.test", SONNET).json()["allowed"] is True
    membership = Membership.objects.get(organization=org, user=member)
    org_services.membership_remove(
        actor=actor(owner), organization=org, public_id=membership.public_id
    )
    assert authorize(gateway, "member@acme.test", SONNET).json()["reason"] == "not_a_member"


def test_a_new_member_is_allowed_at_once(gateway, org, owner):
    from organizations.invitations import invitation_accept, invitation_create

    assert authorize(gateway, "new@acme.test", SONNET).json()["reason"] == "not_a_member"
    invitation = invitation_create(
        actor=actor(owner), organization=org, email="new@acme.test", role=Role.MEMBER
    )
    user = make_user("new@acme.test")
    token = "known-token"
    from organizations.tokens import hash_token

    type(invitation).objects.filter(pk=invitation.pk).update(token_hash=hash_token(token))
    invitation_accept(actor=actor(user), token=token)
    assert authorize(gateway, "new@acme.test", SONNET).json()["allowed"] is True


def test_keys_of_another_organization_see_their_own_policy(gateway, other_org, outsider):
    from usage.services import ingest_key_create

    _, other_key = ingest_key_create(actor=actor(outsider), organization=other_org, name="G")
    body = authorize(other_key, "member@acme.test", SONNET).json()
    assert body["reason"] == "not_a_member"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"user_email": "member@acme.test"}, 422),
        ({"user_email": "member@acme.test", "model": "claude-sonnet-4-5"}, 422),
        ("not json", 400),
    ],
)
def test_malformed_requests_are_refused(gateway, body, status):
    response = Client().post(
        "/api/v1/authorize",
        data=body if isinstance(body, str) else json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {gateway}",
    )
    assert response.status_code == status


def test_no_key_or_a_wrong_key_is_401(gateway):
    assert Client().get("/api/v1/models").status_code == 401
    response = Client().post(
        "/api/v1/authorize",
        data=json.dumps({"user_email": "member@acme.test", "model": SONNET}),
        content_type="application/json",
        HTTP_AUTHORIZATION="Bearer kilo_wrong",
    )
    assert response.status_code == 401


def test_the_model_list_carries_prices_and_policy_facts(gateway, org, owner):
    services.model_policy_update(
        actor=actor(owner),
        organization=org,
        allow="anthropic/*",
        deny="",
        allow_new_models=True,
        default_model=SONNET,
    )
    response = Client().get("/api/v1/models", HTTP_AUTHORIZATION=f"Bearer {gateway}")
    data = {entry["id"]: entry for entry in response.json()["data"]}
    expected = {
        f"anthropic/{m}"
        for m in CatalogModel.objects.filter(
            provider__slug="anthropic", removed_at__isnull=True
        ).values_list("model_id", flat=True)
    }
    assert set(data) == expected
    sonnet = data[SONNET]
    assert sonnet["object"] == "model"
    assert sonnet["owned_by"] == "anthropic"
    assert sonnet["default"] is True
    # $3 / $15 per 1M tokens in the bundled snapshot, as exact decimal strings.
    assert sonnet["pricing"]["input"] == "3" and sonnet["pricing"]["output"] == "15"
    assert sonnet["data_policy"]["trains_on_prompts"] == "no"
    assert sonnet["data_policy"]["retention_days"] == 30


def test_both_endpoints_are_in_the_openapi_schema_and_the_docs_page(client):
    schema = client.get("/api/v1/openapi.json").json()
    assert "post" in schema["paths"]["/api/v1/authorize"]
    assert "get" in schema["paths"]["/api/v1/models"]
    assert "402" in schema["paths"]["/api/v1/authorize"]["post"]["responses"]
    page = client.get("/api/v1/docs").content.decode()
    assert "/api/v1/authorize" in page and "/api/v1/models" in page
    assert "user_email" in page
