"""The Providers tab caches (catalog index, rows rendered once, decisions from the gate
snapshot) never show a stale page: every change shows on the very next request.

Each test first requests the page so that every cache is warm, makes one change through the
service that makes it in production, and reads the next page. Expected values are written
here by hand or read from the bundled JSON files.
"""

import json
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from organizations.models import Membership
from organizations.services import organization_update_policies
from providers.catalog_source import BUNDLED_CATALOG, BUNDLED_POLICIES
from providers.catalog_sync import catalog_sync
from providers.models import SyncStatus
from providers.services import model_policy_bulk_set
from tests.conftest import actor, client_for
from usage.models import ModelDailyRollup

pytestmark = pytest.mark.django_db

SONNET = "anthropic/claude-sonnet-4-5"
DEEPSEEK = "deepseek/deepseek-chat"


def page(user, query: str) -> str:
    response = client_for(user).get(f"/orgs/acme/providers/?{query}")
    assert response.status_code == 200
    return response.content.decode()


def row(html: str, key: str) -> str:
    found = re.search(rf'<tr data-model="{re.escape(key)}">.*?</tr>', html, re.S)
    assert found, f"{key} is not on the page"
    return found.group(0)


def rows_without_tokens(html: str) -> str:
    body = html[html.index('<section id="providers-body"') :]
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", body)


def write(tmp_path, name: str, data: dict) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return str(path)


def test_a_page_served_from_the_caches_is_the_page_built_without_them(enterprise, owner):
    first = page(owner, "q=sonnet&status=")
    second = page(owner, "q=sonnet&status=")
    assert rows_without_tokens(first) == rows_without_tokens(second)


def test_a_model_disabled_shows_on_the_next_request(enterprise, owner):
    assert "badge--ok" in row(page(owner, "q=claude-sonnet-4-5&status="), SONNET)
    model_policy_bulk_set(actor=actor(owner), organization=enterprise, keys=[SONNET], enable=False)
    after = row(page(owner, "q=claude-sonnet-4-5&status="), SONNET)
    assert "Not allowed" in after and "Disabled for this organization" in after
    assert f'aria-label="Enable {SONNET}"' in after


def test_a_policy_saved_shows_in_the_form_and_the_rows_on_the_next_request(enterprise, owner):
    client = client_for(owner)
    client.get("/orgs/acme/providers/")
    client.post(
        "/orgs/acme/providers/policy/",
        {"allow": "anthropic/*", "deny": "anthropic/claude-opus-4-1", "allow_new_models": "on"},
    )
    html = client.get("/orgs/acme/providers/?q=claude-opus-4-1&status=").content.decode()
    assert '<textarea id="p-allow" name="allow" rows="6" spellcheck="false">anthropic/*\n<' in html
    assert "anthropic/claude-opus-4-1\n</textarea>" in html
    assert "Disabled for this organization" in row(html, "anthropic/claude-opus-4-1")
    openai = client.get("/orgs/acme/providers/?q=openai+gpt-5-mini&status=").content.decode()
    assert "Not in the allow list" in row(openai, "openai/gpt-5-mini")


def test_turning_the_opt_out_off_shows_on_the_next_request(enterprise, owner):
    assert enterprise.code_training_opt_out
    before = page(owner, "q=deepseek-chat&status=")
    assert "the provider trains on prompts" in row(before, DEEPSEEK)
    organization_update_policies(
        actor=actor(owner),
        organization=enterprise,
        code_training_opt_out=False,
        usage_analytics=enterprise.usage_analytics,
    )
    after = page(owner, "q=deepseek-chat&status=")
    assert "badge--ok" in row(after, DEEPSEEK)
    assert "Providers that train on prompts are allowed." in after


def test_new_usage_in_the_rollups_shows_and_sorts_on_the_next_request(enterprise, owner):
    query = "q=anthropic&sort=usage&status="
    assert "1,234 req" not in page(owner, query)
    ModelDailyRollup.objects.create(
        organization_id=enterprise.pk,
        day=timezone.now().date() - timedelta(days=1),
        provider="anthropic",
        model="claude-3-haiku-20240307",
        requests=1234,
        cost_microdollars=5_670_000,
    )
    html = page(owner, query)
    first = re.search(r'<tr data-model="([^"]+)"', html).group(1)
    assert first == "anthropic/claude-3-haiku-20240307"
    assert "1,234 req<br>$5.67" in row(html, first)


def test_a_catalog_sync_that_renames_and_reprices_shows_on_the_next_request(
    enterprise, owner, tmp_path
):
    page(owner, "q=claude-sonnet-4-5&status=")
    data = json.loads(BUNDLED_CATALOG.read_text())
    data["anthropic"]["models"]["claude-sonnet-4-5"]["name"] = "Sonnet Renamed"
    data["anthropic"]["models"]["claude-sonnet-4-5"]["cost"]["input"] = 2.5
    assert catalog_sync(source=write(tmp_path, "api.json", data)).status == SyncStatus.APPLIED
    after = row(page(owner, "q=claude-sonnet-4-5&status="), SONNET)
    assert "Sonnet Renamed" in after and "$2.50" in after
    # The search and the price filter read the new catalog too.
    assert SONNET in page(owner, "q=renamed&max_input_price=2.5&status=")


def test_a_provider_fact_changed_by_a_sync_shows_on_the_next_request(enterprise, owner, tmp_path):
    """A sync that changes only a provider's data policy is a catalog change (it used to be
    recorded as "unchanged", and every cache kept the old facts)."""
    before = row(page(owner, "q=deepseek-chat&status="), DEEPSEEK)
    assert "Trains: Yes" in before and "the provider trains on prompts" in before
    policies = json.loads(BUNDLED_POLICIES.read_text())
    deepseek = next(p for p in policies["providers"] if p["ids"]["modelsdev"] == "deepseek")
    deepseek["trains_on_api_prompts_by_default"] = False
    result = catalog_sync(policies_source=write(tmp_path, "policies.json", policies))
    assert result.status == SyncStatus.APPLIED
    assert "1 providers updated" in result.message
    after = row(page(owner, "q=deepseek-chat&status="), DEEPSEEK)
    assert "Trains: No" in after and "badge--ok" in after
    assert DEEPSEEK in page(owner, "trains=no&q=deepseek-chat&status=")


def test_an_editor_and_a_member_never_share_a_row(enterprise, owner, member):
    assert f'aria-label="Disable {SONNET}"' in page(owner, "q=claude-sonnet-4-5")
    as_member = page(member, "q=claude-sonnet-4-5")
    assert f'tr data-model="{SONNET}"' in as_member
    assert "<button" not in row(as_member, SONNET)
    Membership.objects.filter(user=member, organization=enterprise).update(role="admin")
    assert f'aria-label="Disable {SONNET}"' in page(member, "q=claude-sonnet-4-5")
