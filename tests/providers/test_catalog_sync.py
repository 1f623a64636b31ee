"""manage.py sync_model_catalog: all or nothing, idempotent, dated prices.

The test database holds the bundled catalog (tests/conftest.py loads it once); each test changes
it inside its own transaction. Expected figures come from the bundled JSON file itself, read
here with the json module, and from hand computation.
"""

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from audit.models import AuditEvent
from providers.catalog_source import BUNDLED_CATALOG
from providers.catalog_sync import BEGINNING, catalog_sync
from providers.models import CatalogModel, CatalogSync, ModelPrice, Provider, SyncStatus
from providers.tasks import refresh_model_catalog
from usage.ingest import ingest_events
from usage.models import UsageEvent

pytestmark = pytest.mark.django_db


def bundled() -> dict:
    return json.loads(BUNDLED_CATALOG.read_text())


def write(tmp_path, data, name="api.json") -> str:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return str(path)


def catalog_state() -> tuple:
    return (
        Provider.objects.count(),
        CatalogModel.objects.filter(removed_at__isnull=True).count(),
        ModelPrice.objects.count(),
        CatalogModel.objects.get(
            provider__slug="anthropic", model_id="claude-sonnet-4-5"
        ).input_price,
    )


def test_the_bundled_catalog_is_loaded_whole():
    data = bundled()
    assert Provider.objects.count() == len(data) == 147
    assert CatalogModel.objects.count() == sum(len(p["models"]) for p in data.values()) == 5276
    sonnet = CatalogModel.objects.get(provider__slug="anthropic", model_id="claude-sonnet-4-5")
    cost = data["anthropic"]["models"]["claude-sonnet-4-5"]["cost"]
    assert sonnet.input_price == Decimal(str(cost["input"]))
    assert sonnet.output_price == Decimal(str(cost["output"]))
    assert (
        sonnet.context_length
        == data["anthropic"]["models"]["claude-sonnet-4-5"]["limit"]["context"]
    )
    # Policy facts from provider_data_policies.json: OpenAI does not train on API prompts by
    # default but retains them 30 days; DeepSeek is "unclear - treat as yes".
    openai = Provider.objects.get(slug="openai")
    assert (openai.trains_on_prompts, openai.retains_prompts, openai.retention_days) == (
        "no",
        "yes",
        30,
    )
    assert Provider.objects.get(slug="deepseek").trains_on_prompts == "yes"
    # Google's answer depends on the tier: neither yes nor no, with the wording kept.
    google = Provider.objects.get(slug="google")
    assert google.trains_on_prompts == "unknown"
    assert "paid tier: no" in google.policy_notes["trains_on_prompts"]
    # A provider absent from the policy file: every fact unknown.
    assert Provider.objects.get(slug="302ai").trains_on_prompts == "unknown"


def test_a_second_sync_of_the_same_source_changes_nothing():
    before = catalog_state()
    audit_before = AuditEvent.objects.count()
    result = catalog_sync()
    assert result.status == SyncStatus.UNCHANGED
    assert catalog_state() == before
    assert AuditEvent.objects.count() == audit_before


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "empty"),
        ("   \n", "empty"),
        ("[]", "must be a JSON object"),
        ("{}", "lists no models"),
        ("TRUNCATED", "not valid JSON"),
    ],
)
def test_an_empty_or_malformed_source_changes_nothing_and_says_why(tmp_path, text, why):
    if text == "TRUNCATED":
        full = BUNDLED_CATALOG.read_text()
        text = full[: len(full) // 2]
    before = catalog_state()
    with pytest.raises(CommandError, match=why):
        call_command("sync_model_catalog", source=write(tmp_path, text))
    assert catalog_state() == before
    assert CatalogSync.objects.first().status == SyncStatus.REFUSED


def test_one_bad_price_refuses_the_whole_source(tmp_path):
    data = bundled()
    data["anthropic"]["models"]["claude-sonnet-4-5"]["cost"]["input"] = "three dollars"
    data["openai"]["name"] = "OpenAI (renamed)"  # a valid change elsewhere: not applied either
    before = catalog_state()
    result = catalog_sync(source=write(tmp_path, data))
    assert result.status == SyncStatus.REFUSED
    assert "'anthropic', model 'claude-sonnet-4-5': cost.input" in result.message
    assert catalog_state() == before
    assert Provider.objects.get(slug="openai").name == "OpenAI"


def test_a_partial_source_is_refused_unless_removals_are_allowed(tmp_path):
    data = bundled()
    partial = {slug: data[slug] for slug in ("anthropic", "openai")}
    source = write(tmp_path, partial)
    before = catalog_state()
    result = catalog_sync(source=source)
    assert result.status == SyncStatus.REFUSED
    assert "looks partial" in result.message
    assert catalog_state() == before

    result = catalog_sync(source=source, allow_removals=True)
    assert result.status == SyncStatus.APPLIED
    kept = len(data["anthropic"]["models"]) + len(data["openai"]["models"])
    assert CatalogModel.objects.filter(removed_at__isnull=True).count() == kept
    # Removed, not deleted: history and usage keep pointing at them.
    assert CatalogModel.objects.count() == 5276
    assert result.sync.models_removed == 5276 - kept


def test_a_small_removal_is_applied_and_a_returning_model_comes_back(tmp_path):
    data = bundled()
    gone = data["anthropic"]["models"].pop("claude-3-5-sonnet-20240620")
    catalog_sync(source=write(tmp_path, data))
    model = CatalogModel.objects.get(model_id="claude-3-5-sonnet-20240620")
    assert model.removed_at is not None
    data["anthropic"]["models"]["claude-3-5-sonnet-20240620"] = gone
    catalog_sync(source=write(tmp_path, data))
    model.refresh_from_db()
    assert model.removed_at is None


def test_a_price_change_is_dated_and_prices_only_events_after_it(
    tmp_path, org, member, time_machine
):
    # claude-sonnet-4-5 costs $3 / $15 per 1M input/output tokens in the bundled snapshot.
    time_machine.move_to(datetime(2026, 11, 20, 12, 0, tzinfo=UTC), tick=False)
    first = {
        "request_id": "before",
        "occurred_at": "2026-11-20T11:00:00Z",
        "user_email": "member@acme.test",
        "model": "claude-sonnet-4-5",
        "provider": "anthropic",
        "input_tokens": 1000,
        "output_tokens": 200,
        "latency_ms": 900,
        "status": "success",
    }
    assert ingest_events(organization_id=org.pk, events=[first]).accepted == 1

    data = bundled()
    data["anthropic"]["models"]["claude-sonnet-4-5"]["cost"].update(input=4, output=20)
    result = catalog_sync(source=write(tmp_path, data))
    assert result.sync.prices_changed == 1
    sonnet = CatalogModel.objects.get(provider__slug="anthropic", model_id="claude-sonnet-4-5")
    history = list(sonnet.prices.values_list("effective_from", "input", "output"))
    change_at = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    assert history == [
        (BEGINNING, Decimal(3), Decimal(15)),
        (change_at, Decimal(4), Decimal(20)),
    ]

    time_machine.move_to(change_at + timedelta(hours=1), tick=False)
    late = {**first, "request_id": "late", "occurred_at": "2026-11-20T11:30:00Z"}
    after = {**first, "request_id": "after", "occurred_at": "2026-11-20T12:30:00Z"}
    assert ingest_events(organization_id=org.pk, events=[late, after]).accepted == 2
    costs = dict(UsageEvent.objects.values_list("request_id", "cost_microdollars"))
    # 1000 x $3 + 200 x $15 = 6,000 microdollars before; 1000 x $4 + 200 x $20 = 8,000 after.
    assert costs == {"before": 6000, "late": 6000, "after": 8000}


@override_settings(PROVIDERS_CATALOG_URL="http://127.0.0.1:9/api.json")
def test_a_failed_daily_fetch_keeps_the_catalog_and_is_recorded():
    before = catalog_state()
    assert refresh_model_catalog() == SyncStatus.REFUSED
    assert catalog_state() == before
    sync = CatalogSync.objects.first()
    assert sync.status == SyncStatus.REFUSED
    assert sync.message.startswith("Could not read http://127.0.0.1:9/api.json")


@override_settings(PROVIDERS_CATALOG_URL="")
def test_the_daily_refresh_is_off_without_a_url():
    count = CatalogSync.objects.count()
    assert refresh_model_catalog() == "disabled"
    assert CatalogSync.objects.count() == count
