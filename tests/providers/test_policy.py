"""The pure policy function, row by row (tests/providers/policy_table.py)."""

import pytest

from providers.policy import ModelFacts, PolicyRules, Reason, Rule, decide, effective, split_key

from .policy_table import NEW, OLD, ROWS, RULE_ADDED, TRAINS, Row


def facts(row: Row) -> ModelFacts:
    provider, _ = split_key(row.model)
    return ModelFacts(
        key=row.model,
        provider=provider,
        first_seen_at=row.first_seen,
        trains_on_prompts=TRAINS[provider],
    )


def rules(row: Row) -> PolicyRules:
    return PolicyRules(
        allow=tuple(Rule(r, RULE_ADDED) for r in row.allow),
        deny=tuple(Rule(r, RULE_ADDED) for r in row.deny),
        allow_new_models=row.allow_new_models,
        opted_out=row.opted_out,
    )


@pytest.mark.parametrize("row", [pytest.param(r, id=r.id) for r in ROWS])
def test_policy_table(row):
    decision = decide(facts(row), rules(row))
    assert decision.reason == Reason(row.expected)
    assert decision.allowed is (row.expected == "allowed")


def test_the_switch_turned_off_later_freezes_wildcards_at_that_moment():
    # Rule added before both models; switch turned off between them: the older model stays,
    # the one first seen after the switch went off needs an exact rule.
    policy = PolicyRules(
        allow=(Rule("anthropic/*", datetime_before(OLD)),),
        allow_new_models=False,
        new_models_frozen_at=RULE_ADDED,
    )
    old = ModelFacts("anthropic/a", "anthropic", OLD, "no")
    new = ModelFacts("anthropic/b", "anthropic", NEW, "no")
    result = effective([old, new], policy)
    assert result["anthropic/a"].allowed
    assert result["anthropic/b"].reason == Reason.NEW_MODEL_NOT_ALLOWED


def test_a_model_id_with_slashes_belongs_to_its_first_segment():
    model = ModelFacts("openrouter/anthropic/claude", "openrouter", OLD, "no")
    assert split_key(model.key) == ("openrouter", "anthropic/claude")
    policy = PolicyRules(allow=(Rule("*"),), deny=(Rule("anthropic/*"),))
    assert decide(model, policy).allowed  # "anthropic/*" is another provider


def datetime_before(moment):  # noqa: ANN001, ANN201
    from datetime import timedelta

    return moment - timedelta(days=30)
