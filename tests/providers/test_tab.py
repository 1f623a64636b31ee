"""The Providers and models tab: filters, sorts, roles, plans, bulk actions, policy edits.

Expected counts are computed here from the bundled JSON files with plain Python (not with the
app's code), and figures on the page are read from its HTML.
"""

import json
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from providers.catalog_source import BUNDLED_CATALOG, BUNDLED_POLICIES
from providers.models import ModelPolicy
from tests.conftest import client_for
from usage.models import ModelDailyRollup

pytestmark = pytest.mark.django_db

SONNET = "anthropic/claude-sonnet-4-5"


def catalog() -> dict:
    return json.loads(BUNDLED_CATALOG.read_text())


def policy_file() -> dict:
    return {p["ids"]["modelsdev"]: p for p in json.loads(BUNDLED_POLICIES.read_text())["providers"]}


def search(*words: str) -> list[tuple[str, dict]]:
    """The documented search: every word appears in the model's name or id or its provider's
    name or id (case-insensitive)."""
    found = []
    for slug, provider in catalog().items():
        for model_id, m in provider["models"].items():
            text = " ".join((m["name"], model_id, provider["name"], slug)).lower()
            if all(word in text for word in words):
                found.append((f"{slug}/{model_id}", m))
    return found


def match_count(html: str) -> int:
    return int(re.search(r'data-testid="match-count">([\d,]+)<', html).group(1).replace(",", ""))


def row_keys(html: str) -> list[str]:
    return re.findall(r'<tr data-model="([^"]+)"', html)


def tab(user, query: str = "", **headers) -> str:
    response = client_for(user).get(f"/orgs/acme/providers/?{query}", **headers)
    assert response.status_code == 200
    return response.content.decode()


def test_policy_filters_combine_with_modalities_and_price(enterprise, owner):
    # By hand from the two JSON files: providers that neither train (false) nor retain (false),
    # their models with image input and an input price of at most $0.50 per 1M tokens.
    policies = policy_file()
    clean = {
        slug
        for slug, p in policies.items()
        if p["trains_on_api_prompts_by_default"] is False and p["retains_prompts"] is False
    }
    expected = sorted(
        f"{slug}/{model_id}"
        for slug, provider in catalog().items()
        if slug in clean
        for model_id, m in provider["models"].items()
        if "image" in m["modalities"]["input"]
        and m.get("cost")
        and Decimal(str(m["cost"]["input"])) <= Decimal("0.5")
    )
    html = tab(owner, "trains=no&retains=no&in=image&max_input_price=0.5&status=")
    assert match_count(html) == len(expected)
    assert set(row_keys(html)) <= set(expected)


def test_text_search_and_minimum_context(enterprise, owner):
    expected = [k for k, m in search("anthropic", "sonnet") if m["limit"]["context"] >= 1_000_000]
    html = tab(owner, "q=anthropic+sonnet&min_context=1000000&status=")
    assert match_count(html) == len(expected)


def test_sort_by_price_puts_the_cheapest_first(enterprise, owner):
    html = tab(owner, "q=anthropic&hq=US&sort=price&status=")
    keys = row_keys(html)
    prices = {
        f"anthropic/{k}": Decimal(str(m["cost"]["input"]))
        for k, m in catalog()["anthropic"]["models"].items()
        if m.get("cost")
    }
    anthropic_keys = [k for k in keys if k in prices]
    assert [prices[k] for k in anthropic_keys] == sorted(prices[k] for k in anthropic_keys)


def test_sort_by_our_usage_uses_the_last_30_days_of_rollups(enterprise, owner):
    today = timezone.now().date()
    for day, model, requests in (
        (today, "claude-opus-4-1", 5),
        (today - timedelta(days=3), "claude-sonnet-4-5", 40),
        (today - timedelta(days=40), "claude-3-haiku-20240307", 900),  # too old to count
    ):
        ModelDailyRollup.objects.create(
            organization_id=enterprise.pk,
            day=day,
            model=model,
            provider="anthropic",
            requests=requests,
            cost_microdollars=requests * 1000,
        )
    keys = row_keys(tab(owner, "q=anthropic&sort=usage&status="))
    # Then the rest in name order: the 40-day-old haiku usage does not count.
    assert keys[:2] == [SONNET, "anthropic/claude-opus-4-1"]
    assert "anthropic/claude-3-haiku-20240307" not in keys[:2]


def test_invalid_filter_values_are_reported_and_the_rest_still_applies(enterprise, owner):
    html = tab(owner, "min_context=lots&max_input_price=-3&q=anthropic+sonnet&status=")
    assert "Minimum context must be a whole number" in html
    assert "Maximum input price must be an amount" in html
    assert 0 < match_count(html) < 100  # the text search still filtered


def test_htmx_requests_get_only_the_table(enterprise, owner):
    html = tab(owner, "q=sonnet", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="providers-body")
    assert html.lstrip().startswith('<section id="providers-body"')
    assert "<html" not in html


def test_the_tab_runs_a_fixed_number_of_queries(enterprise, owner, django_assert_max_num_queries):
    client = client_for(owner)
    client.get("/orgs/acme/providers/")  # warms the snapshot cache
    with django_assert_max_num_queries(14):
        response = client.get("/orgs/acme/providers/?trains=no&in=image&sort=price&page=2")
    assert response.status_code == 200


def test_members_see_the_effective_list_read_only(enterprise, member, owner):
    html = tab(member)
    assert 'name="allow"' not in html and "Disable all" not in html
    assert 'action="/orgs/acme/providers/disable/"' not in html
    # Members land on what they may use: every listed row is allowed.
    assert "Not allowed</span>" not in html


def test_teams_organizations_see_the_catalog_with_an_upgrade_panel(org, owner):
    html = tab(owner)
    assert "Choose your organization's models with Enterprise" in html
    assert 'name="allow"' not in html and "Disable all" not in html
    assert match_count(html) > 0


def test_excluded_rows_say_why_next_to_them(enterprise, owner):
    assert enterprise.code_training_opt_out
    html = tab(owner, "q=deepseek-chat&status=")
    assert "the provider trains on prompts" in html


def test_bulk_disable_confirms_how_many_models_change_then_applies(enterprise, owner):
    expected = sorted(key for key, _ in search("anthropic", "haiku"))
    client = client_for(owner)
    page = client.get("/orgs/acme/providers/bulk/?action=disable&q=anthropic+haiku").content
    assert f"This disables <strong>{len(expected)}</strong>".encode() in page
    response = client.post(
        "/orgs/acme/providers/bulk/apply/",
        {"action": "disable", "q": "anthropic haiku", "expected": str(len(expected))},
    )
    assert response.status_code == 302
    policy = ModelPolicy.objects.get(organization=enterprise)
    assert sorted(e["rule"] for e in policy.deny) == expected
    event = AuditEvent.objects.get(action="providers.models_disabled")
    assert event.after["count"] == len(expected)
    assert event.before["status"] == "enabled" and event.after["status"] == "disabled"


def test_a_bulk_action_refuses_when_the_list_changed_since_confirming(enterprise, owner):
    response = client_for(owner).post(
        "/orgs/acme/providers/bulk/apply/",
        {"action": "disable", "q": "anthropic haiku", "expected": "1"},
        follow=True,
    )
    assert "Nothing was changed" in response.content.decode()
    assert not ModelPolicy.objects.filter(organization=enterprise).exists()


def test_a_change_that_would_disallow_the_default_model_is_refused(enterprise, owner):
    client = client_for(owner)
    client.post(
        "/orgs/acme/providers/policy/",
        {"allow": "anthropic/*", "deny": "", "allow_new_models": "on", "default_model": SONNET},
    )
    response = client.post(
        "/orgs/acme/providers/disable/", {"model": SONNET, "back": ""}, follow=True
    )
    assert "Choose another default model first" in response.content.decode()
    policy = ModelPolicy.objects.get(organization=enterprise)
    assert SONNET not in [e["rule"] for e in policy.deny]
    response = client.post(
        "/orgs/acme/providers/policy/",
        {"allow": "openai/*", "deny": "", "allow_new_models": "on", "default_model": SONNET},
        follow=True,
    )
    assert "would disallow the default model" in response.content.decode()
    policy.refresh_from_db()
    assert [e["rule"] for e in policy.allow] == ["anthropic/*"]


def test_policy_changes_are_audited_with_a_readable_before_and_after(enterprise, admin):
    client_for(admin).post(
        "/orgs/acme/providers/policy/",
        {"allow": "*", "deny": "deepseek/*, xai/*", "default_model": ""},
    )
    event = AuditEvent.objects.get(action="providers.policy_updated")
    assert event.actor == admin
    assert event.before == {"deny": [], "allow_new_models": True}
    assert event.after == {"deny": ["deepseek/*", "xai/*"], "allow_new_models": False}


def test_a_rule_naming_nothing_in_the_catalog_is_refused(enterprise, owner):
    response = client_for(owner).post(
        "/orgs/acme/providers/policy/",
        {"allow": "*\nacme-ai/*", "deny": "", "allow_new_models": "on"},
        follow=True,
    )
    assert "There is no provider “acme-ai” in the catalog" in response.content.decode()
    assert not ModelPolicy.objects.filter(organization=enterprise).exists()


def test_the_usage_tab_flags_a_model_the_policy_does_not_allow(enterprise, owner):
    ModelDailyRollup.objects.create(
        organization_id=enterprise.pk,
        day=timezone.now().date(),
        model="deepseek-chat",
        provider="deepseek",
        requests=3,
        cost_microdollars=300,
    )
    from usage.models import OrgDailyRollup

    OrgDailyRollup.objects.create(
        organization_id=enterprise.pk, day=timezone.now().date(), requests=3
    )
    html = client_for(owner).get("/orgs/acme/usage/").content.decode()
    row = re.search(r"<tr[^>]*><th scope=\"row\">deepseek-chat.*?</tr>", html, re.S).group(0)
    assert "Not allowed by policy" in row


def _only_anthropic_allowed(organization) -> dict:
    ModelPolicy.objects.create(
        organization=organization, allow=[{"rule": "anthropic/*", "added_at": None}]
    )
    return catalog()["anthropic"]["models"]


def test_sort_by_context_puts_the_longest_first_and_ties_in_name_order(enterprise, owner):
    models = _only_anthropic_allowed(enterprise)
    expected = [
        f"anthropic/{model_id}"
        for model_id, m in sorted(
            models.items(), key=lambda item: (-item[1]["limit"]["context"], item[1]["name"])
        )
    ]
    assert len(expected) < 50  # one page
    assert row_keys(tab(owner, "sort=context&status=allowed")) == expected


def test_sort_by_release_puts_the_newest_first(enterprise, owner):
    models = _only_anthropic_allowed(enterprise)
    dates = {f"anthropic/{model_id}": m["release_date"] for model_id, m in models.items()}
    keys = row_keys(tab(owner, "sort=release&status=allowed"))
    assert sorted(keys) == sorted(dates)
    assert [dates[k] for k in keys] == sorted(dates.values(), reverse=True)
