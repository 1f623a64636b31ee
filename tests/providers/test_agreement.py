"""For every row of the policy table, the tab, GET /api/v1/models and POST /api/v1/authorize
give the same answer as the table (tests/providers/policy_table.py)."""

import json
import re

import pytest
from django.test import Client
from django.utils.html import escape

from providers.catalog_sync import catalog_changed
from providers.models import CatalogModel, ModelPolicy
from providers.policy import REASON_TEXT, Reason, split_key
from tests.conftest import client_for

from .policy_table import ROWS, RULE_ADDED, Row

pytestmark = pytest.mark.django_db

# The API's coarse reason for each fine one (written out by hand from the list).
API_REASON = {
    "allowed": "allowed",
    "model_not_allowed": "model_not_allowed",
    "not_in_allow_list": "model_not_allowed",
    "new_model_not_allowed": "model_not_allowed",
    "provider_not_allowed": "provider_not_allowed",
    "provider_trains_on_prompts": "provider_trains_on_prompts",
    "provider_policy_unknown": "provider_trains_on_prompts",
}


def _apply(row: Row, organization) -> None:  # noqa: ANN001
    provider, model_id = split_key(row.model)
    CatalogModel.objects.filter(provider__slug=provider, model_id=model_id).update(
        first_seen_at=row.first_seen
    )
    catalog_changed()
    added = RULE_ADDED.isoformat()
    ModelPolicy.objects.create(
        organization=organization,
        allow=[{"rule": r, "added_at": added} for r in row.allow],
        deny=[{"rule": r, "added_at": added} for r in row.deny],
        allow_new_models=row.allow_new_models,
    )
    organization.code_training_opt_out = row.opted_out
    organization.save(update_fields=["code_training_opt_out"])


@pytest.mark.parametrize("row", [pytest.param(r, id=r.id) for r in ROWS])
def test_tab_models_and_authorize_agree(row, enterprise, credit, api_key, personas):
    _apply(row, enterprise)
    allowed = row.expected == "allowed"
    auth = {"HTTP_AUTHORIZATION": f"Bearer {api_key}"}

    answer = (
        Client()
        .post(
            "/api/v1/authorize",
            data=json.dumps({"user_email": "member@acme.test", "model": row.model}),
            content_type="application/json",
            **auth,
        )
        .json()
    )
    assert answer["allowed"] is allowed
    assert answer["reason"] == API_REASON[row.expected]
    if not allowed:
        assert answer["policy_reason"] == row.expected

    listed = {m["id"] for m in Client().get("/api/v1/models", **auth).json()["data"]}
    assert (row.model in listed) is allowed

    model_id = split_key(row.model)[1]
    html = client_for(personas["owner"]).get(f"/orgs/acme/providers/?q={model_id}&status=")
    cell = re.search(
        rf'<tr data-model="{re.escape(row.model)}">(.*?)</tr>', html.content.decode(), re.S
    ).group(1)
    if allowed:
        assert 'badge--ok">Allowed' in cell
    else:
        assert escape(REASON_TEXT[Reason(row.expected)]) in cell
