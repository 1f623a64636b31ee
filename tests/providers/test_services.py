"""Policy services end to end with the catalog: new models after a sync, the gateway standing
pushed by the ledger, refusals that change nothing."""

import json
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from billing.balance import ledger_post
from providers import services
from providers.catalog_source import BUNDLED_CATALOG
from providers.catalog_sync import catalog_sync
from providers.gateway import authorize
from providers.models import GatewayStanding, ModelPolicy
from tests.conftest import actor

pytestmark = pytest.mark.django_db

NEW_MODEL = "anthropic/claude-next-preview"


def _sync_with_a_new_anthropic_model(tmp_path) -> None:
    data = json.loads(BUNDLED_CATALOG.read_text())
    data["anthropic"]["models"]["claude-next-preview"] = {
        **data["anthropic"]["models"]["claude-sonnet-4-5"],
        "id": "claude-next-preview",
        "name": "Claude Next (preview)",
    }
    path = tmp_path / "api.json"
    path.write_text(json.dumps(data))
    assert catalog_sync(source=str(path)).sync.models_added == 1


def test_a_model_added_by_a_sync_follows_the_new_models_switch(
    tmp_path, enterprise, credit, owner, member, time_machine
):
    start = timezone.now() + timedelta(minutes=1)  # after the catalog fixture's sync
    time_machine.move_to(start, tick=False)
    services.model_policy_update(
        actor=actor(owner),
        organization=enterprise,
        allow="anthropic/*",
        deny="",
        allow_new_models=False,
        default_model="",
    )
    policy = ModelPolicy.objects.get(organization=enterprise)
    assert policy.new_models_frozen_at is not None
    assert authorize(enterprise.pk, member.email, "anthropic/claude-sonnet-4-5").allowed

    time_machine.move_to(start + timedelta(minutes=1), tick=False)  # a later sync
    _sync_with_a_new_anthropic_model(tmp_path)
    answer = authorize(enterprise.pk, member.email, NEW_MODEL)
    assert (answer.allowed, answer.policy_reason) == (False, "new_model_not_allowed")

    services.model_policy_bulk_set(
        actor=actor(owner), organization=enterprise, keys=[NEW_MODEL], enable=True
    )
    assert authorize(enterprise.pk, member.email, NEW_MODEL).allowed


def test_with_the_switch_on_a_new_model_is_allowed_at_once(tmp_path, enterprise, credit, member):
    _sync_with_a_new_anthropic_model(tmp_path)
    assert authorize(enterprise.pk, member.email, NEW_MODEL).allowed


def test_the_ledger_records_credit_only_when_the_balance_crosses_zero(org):
    def append(amount: int, key: str) -> None:
        with transaction.atomic():
            kind = "promotional" if amount > 0 else "usage"
            ledger_post(
                organization=org, kind=kind, amount_microdollars=amount, idempotency_key=key
            )

    assert not GatewayStanding.objects.filter(organization=org).exists()
    append(5, "a")
    standing = GatewayStanding.objects.get(organization=org)
    assert standing.has_credit
    stamp = standing.updated_at
    append(5, "b")  # 5 -> 10: no crossing, no write
    standing.refresh_from_db()
    assert standing.updated_at == stamp
    append(-10, "c")  # 10 -> 0: exhausted
    standing.refresh_from_db()
    assert not standing.has_credit


def test_a_teams_organization_cannot_set_a_policy(org, owner):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied, match="Enterprise"):
        services.model_policy_update(
            actor=actor(owner),
            organization=org,
            allow="*",
            deny="deepseek/*",
            allow_new_models=True,
            default_model="",
        )
    assert not ModelPolicy.objects.exists()


def test_a_teams_organization_keeps_its_stored_rules_but_only_the_opt_out_applies(
    enterprise, credit, owner, member
):
    services.model_policy_update(
        actor=actor(owner),
        organization=enterprise,
        allow="*",
        deny="anthropic/*",
        allow_new_models=True,
        default_model="",
    )
    assert not authorize(enterprise.pk, member.email, "anthropic/claude-sonnet-4-5").allowed
    from organizations.gate import gate_changed

    enterprise.plan = "teams"
    enterprise.save(update_fields=["plan"])
    gate_changed(enterprise.pk)  # what subscriptions does when the plan changes
    assert authorize(enterprise.pk, member.email, "anthropic/claude-sonnet-4-5").allowed
