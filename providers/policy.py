"""The policy algebra: which catalog models an organization's members may use, and why not.

Pure functions over plain data (no database), so the tab, /api/v1/models and /api/v1/authorize
share one answer and a table-driven test can pin it down.

Rules are "*", "provider/*" or "provider/model" (a model id may itself contain "/": the first
segment is the provider). For each model:
1. The most specific matching rule decides (exact model > provider wildcard > "*"); at equal
   specificity a deny beats an allow. No matching allow rule: not allowed.
2. With "allow new models from allowed providers" off, a wildcard allow covers only models the
   catalog already had when the rule was added or the switch was turned off (whichever is
   later); newer models need an exact rule.
3. With the code-training opt-out on, a provider that trains on prompts, or whose policy is
   unknown, is excluded whatever the rules say: an unknown policy counts as "may train".
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Reason(StrEnum):
    ALLOWED = "allowed"
    MODEL_NOT_ALLOWED = "model_not_allowed"
    PROVIDER_NOT_ALLOWED = "provider_not_allowed"
    NOT_IN_ALLOW_LIST = "not_in_allow_list"
    NEW_MODEL_NOT_ALLOWED = "new_model_not_allowed"
    PROVIDER_TRAINS = "provider_trains_on_prompts"
    PROVIDER_POLICY_UNKNOWN = "provider_policy_unknown"


REASON_TEXT = {
    Reason.ALLOWED: "Allowed",
    Reason.MODEL_NOT_ALLOWED: "Disabled for this organization",
    Reason.PROVIDER_NOT_ALLOWED: "Provider disabled for this organization",
    Reason.NOT_IN_ALLOW_LIST: "Not in the allow list",
    Reason.NEW_MODEL_NOT_ALLOWED: "New model: not allowed until enabled",
    Reason.PROVIDER_TRAINS: "Excluded by the code-training opt-out: the provider trains on prompts",
    Reason.PROVIDER_POLICY_UNKNOWN: (
        "Excluded by the code-training opt-out: the provider's training policy is unknown"
    ),
}
OPT_OUT_REASONS = frozenset({Reason.PROVIDER_TRAINS, Reason.PROVIDER_POLICY_UNKNOWN})


@dataclass(frozen=True)
class ModelFacts:
    key: str  # "provider/model"
    provider: str
    first_seen_at: datetime
    trains_on_prompts: str  # "yes", "no" or "unknown"


@dataclass(frozen=True)
class Rule:
    pattern: str
    added_at: datetime | None = None


@dataclass(frozen=True)
class PolicyRules:
    allow: tuple[Rule, ...] = (Rule("*"),)
    deny: tuple[Rule, ...] = ()
    allow_new_models: bool = True
    new_models_frozen_at: datetime | None = None
    opted_out: bool = False


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: Reason
    # Allowed by the rules alone (before the opt-out): what a bulk enable/disable changes.
    allowed_by_rules: bool = False

    @property
    def text(self) -> str:
        return REASON_TEXT[self.reason]


def split_key(key: str) -> tuple[str, str]:
    provider, _, model = key.partition("/")
    return provider, model


def specificity(pattern: str) -> int:
    if pattern == "*":
        return 0
    return 1 if pattern.endswith("/*") else 2


@dataclass
class _Compiled:
    """Rules indexed by what they match, for one pass over thousands of models."""

    exact: dict[str, Rule] = field(default_factory=dict)
    by_provider: dict[str, Rule] = field(default_factory=dict)
    everything: Rule | None = None

    @classmethod
    def of(cls, rules: Iterable[Rule]) -> "_Compiled":
        compiled = cls()
        for rule in rules:
            level = specificity(rule.pattern)
            if level == 0:
                compiled.everything = rule
            elif level == 1:
                compiled.by_provider[rule.pattern[:-2]] = rule
            else:
                compiled.exact[rule.pattern] = rule
        return compiled

    def match(self, model: ModelFacts) -> tuple[int, Rule] | None:
        """The most specific rule matching the model, with its specificity."""
        if model.key in self.exact:
            return 2, self.exact[model.key]
        if model.provider in self.by_provider:
            return 1, self.by_provider[model.provider]
        if self.everything is not None:
            return 0, self.everything
        return None


class Evaluator:
    def __init__(self, rules: PolicyRules) -> None:
        self.rules = rules
        self.allow = _Compiled.of(rules.allow)
        self.deny = _Compiled.of(rules.deny)

    def _covers(self, level: int, rule: Rule, model: ModelFacts) -> bool:
        if level == 2 or self.rules.allow_new_models:
            return True
        cutoffs = [t for t in (rule.added_at, self.rules.new_models_frozen_at) if t is not None]
        return not cutoffs or model.first_seen_at <= max(cutoffs)

    def _allow_match(self, model: ModelFacts) -> tuple[int | None, bool]:
        """Specificity of the most specific allow rule covering the model, and whether a
        wildcard matched but did not cover it (a model newer than the wildcard)."""
        if model.key in self.allow.exact:
            return 2, False
        skipped = False
        wildcard = self.allow.by_provider.get(model.provider)
        if wildcard is not None:
            if self._covers(1, wildcard, model):
                return 1, False
            skipped = True
        everything = self.allow.everything
        if everything is not None:
            if self._covers(0, everything, model):
                return 0, skipped
            skipped = True
        return None, skipped

    def _by_rules(self, model: ModelFacts) -> Reason:
        allowed, skipped = self._allow_match(model)
        denied = self.deny.match(model)
        if denied is not None and (allowed is None or denied[0] >= allowed):
            return Reason.MODEL_NOT_ALLOWED if denied[0] == 2 else Reason.PROVIDER_NOT_ALLOWED
        if allowed is None:
            return Reason.NEW_MODEL_NOT_ALLOWED if skipped else Reason.NOT_IN_ALLOW_LIST
        return Reason.ALLOWED

    def decide(self, model: ModelFacts) -> Decision:
        reason = self._by_rules(model)
        by_rules = reason == Reason.ALLOWED
        if by_rules and self.rules.opted_out:
            if model.trains_on_prompts == "yes":
                return Decision(False, Reason.PROVIDER_TRAINS, True)
            if model.trains_on_prompts != "no":
                return Decision(False, Reason.PROVIDER_POLICY_UNKNOWN, True)
        return Decision(by_rules, reason, by_rules)


def decide(model: ModelFacts, rules: PolicyRules) -> Decision:
    return Evaluator(rules).decide(model)


def effective(models: Iterable[ModelFacts], rules: PolicyRules) -> dict[str, Decision]:
    """Every model's decision, keyed by "provider/model"."""
    evaluator = Evaluator(rules)
    return {model.key: evaluator.decide(model) for model in models}
