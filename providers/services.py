"""Writes: an organization's model policy (rules, bulk enable/disable) and the gateway standing.

Each policy change is checked here (views are not trusted), runs in one transaction with a
readable audit row, and replaces the organization's gate version on commit so that
/api/v1/authorize and /api/v1/models answer from the new policy at once.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from audit.services import Actor, audit_record
from organizations.gate import gate_changed
from organizations.models import Membership, Organization
from organizations.permissions import Capability, role_can

from .models import GatewayStanding, ModelPolicy
from .policy import OPT_OUT_REASONS, Evaluator, Reason, effective, specificity, split_key
from .selectors import catalog_facts, catalog_keys, rules_for

MAX_RULES = 20_000
RULE_RE = re.compile(r"^(\*|[A-Za-z0-9._-]{1,64}/(\*|\S{1,128}))$")
AUDIT_LIST_LIMIT = 50


class PolicyError(Exception):
    """The change was refused; the message is meant for the user. Nothing was changed."""


@dataclass(frozen=True)
class BulkResult:
    changed: int  # models whose effective status changes
    unchanged: int  # already in the asked state
    held_by_opt_out: int  # enabled by the rules, still excluded by the code-training opt-out


# --- helpers ------------------------------------------------------------------------------------


def _lock(organization: Organization) -> tuple[Organization, ModelPolicy]:
    organization = Organization.objects.select_for_update().get(pk=organization.pk)
    policy, _ = ModelPolicy.objects.select_for_update().get_or_create(
        organization=organization, defaults={"allow": [_entry("*", None)]}
    )
    return organization, policy


def _require(actor: Actor, organization: Organization) -> None:
    role = (
        Membership.objects.filter(organization=organization, user_id=getattr(actor.user, "pk", 0))
        .values_list("role", flat=True)
        .first()
    )
    if role is None or not role_can(role, Capability.EDIT_POLICIES):
        raise PermissionDenied("Your role in this organization does not allow this.")
    if not organization.is_enterprise:
        raise PermissionDenied("The model policy is part of the Enterprise plan.")


def _entry(rule: str, added_at: str | None) -> dict:
    return {"rule": rule, "added_at": added_at}


def _patterns(entries: list) -> list[str]:
    return [entry["rule"] for entry in entries]


def _snapshot(policy: ModelPolicy) -> dict:
    return {
        "allow": _patterns(policy.allow),
        "deny": _patterns(policy.deny),
        "allow_new_models": policy.allow_new_models,
        "default_model": policy.default_model,
    }


def _check_default(organization: Organization, policy: ModelPolicy) -> None:
    """The default model must stay usable: refuse a change that would exclude it."""
    if not policy.default_model:
        return
    decisions = effective(
        [f for f in catalog_facts() if f.key == policy.default_model],
        rules_for(organization, policy),
    )
    decision = decisions.get(policy.default_model)
    if decision is None:
        raise PolicyError(f"The default model {policy.default_model} is not in the catalog.")
    if not decision.allowed:
        raise PolicyError(
            f"This would disallow the default model {policy.default_model} "
            f"({decision.text.lower()}). Choose another default model first."
        )


def normalize_rules(text_or_list: str | Iterable[str], known: set[str]) -> list[str]:
    """Rules from a textarea (one per line or comma-separated), checked against the catalog."""
    is_text = isinstance(text_or_list, str)
    raw = re.split(r"[\s,]+", text_or_list) if is_text else list(text_or_list)
    rules: list[str] = []
    providers = {split_key(key)[0] for key in known}
    for rule in (r.strip() for r in raw):
        if not rule or rule in rules:
            continue
        if not RULE_RE.match(rule):
            raise PolicyError(f"“{rule[:80]}” is not a rule: use provider/model, provider/* or *.")
        level = specificity(rule)
        if level == 1 and rule[:-2] not in providers:
            raise PolicyError(f"There is no provider “{rule[:-2]}” in the catalog.")
        if level == 2 and rule not in known:
            raise PolicyError(f"There is no model “{rule}” in the catalog.")
        rules.append(rule)
    if len(rules) > MAX_RULES:
        raise PolicyError(f"At most {MAX_RULES:,} rules per list.")
    return rules


def _keep_dates(entries: list, rules: list[str], now: str) -> list[dict]:
    added = {entry["rule"]: entry.get("added_at") for entry in entries}
    return [_entry(rule, added.get(rule) or now) for rule in rules]


def _changed_only(before: dict, after: dict) -> tuple[dict, dict]:
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after[k] for k in keys}


def _summarize(rules: list[str]) -> list[str]:
    if len(rules) <= AUDIT_LIST_LIMIT:
        return rules
    return [*rules[:AUDIT_LIST_LIMIT], f"… and {len(rules) - AUDIT_LIST_LIMIT:,} more"]


# --- the policy ---------------------------------------------------------------------------------


@transaction.atomic
def model_policy_update(
    *,
    actor: Actor,
    organization: Organization,
    allow: str | Iterable[str],
    deny: str | Iterable[str],
    allow_new_models: bool,
    default_model: str,
) -> ModelPolicy:
    organization, policy = _lock(organization)
    _require(actor, organization)
    known = catalog_keys()
    allow_rules = normalize_rules(allow, known)
    deny_rules = normalize_rules(deny, known)
    default_model = default_model.strip()
    if default_model and default_model not in known:
        raise PolicyError(f"There is no model “{default_model}” in the catalog.")
    before = _snapshot(policy)
    now = timezone.now()
    policy.allow = _keep_dates(policy.allow, allow_rules, now.isoformat())
    policy.deny = _keep_dates(policy.deny, deny_rules, now.isoformat())
    if policy.allow_new_models and not allow_new_models:
        policy.new_models_frozen_at = now
    policy.allow_new_models = allow_new_models
    policy.default_model = default_model
    _check_default(organization, policy)
    after = _snapshot(policy)
    if before == after:
        return policy
    policy.save()
    old, new = _changed_only(before, after)
    for side in ("allow", "deny"):
        if side in new:  # the lists can be long: record what was added and removed
            old[side] = _summarize(sorted(set(before[side]) - set(after[side])))
            new[side] = _summarize(sorted(set(after[side]) - set(before[side])))
    audit_record(
        actor=actor,
        action="providers.policy_updated",
        organization=organization,
        target=policy,
        target_label="Model policy",
        before=old,
        after=new,
    )
    gate_changed(organization.pk)
    return policy


def bulk_preview(organization: Organization, keys: Iterable[str], *, enable: bool) -> BulkResult:
    """What `model_policy_bulk_set` would do, for the confirmation."""
    return _plan(organization, rules_for(organization), list(keys), enable)[0]


def _plan(organization, rules, keys: list[str], enable: bool):  # noqa: ANN001, ANN202
    facts = {f.key: f for f in catalog_facts()}
    evaluator = Evaluator(rules)
    changed, unchanged, held = [], 0, 0
    for key in keys:
        model = facts.get(key)
        if model is None:
            continue
        decision = evaluator.decide(model)
        if decision.allowed_by_rules == enable:
            unchanged += 1
        elif enable and rules.opted_out and model.trains_on_prompts != "no":
            held += 1
            changed.append(key)  # the rule changes; the opt-out still excludes the model
        else:
            changed.append(key)
    return BulkResult(len(changed) - held, unchanged, held), changed


@transaction.atomic
def model_policy_bulk_set(
    *, actor: Actor, organization: Organization, keys: Iterable[str], enable: bool
) -> BulkResult:
    """Enable or disable every model in `keys` with exact rules (the most specific kind)."""
    organization, policy = _lock(organization)
    _require(actor, organization)
    rules = rules_for(organization, policy)
    result, changing = _plan(organization, rules, list(keys), enable)
    if not changing:
        return result
    changing_set = set(changing)
    now = timezone.now().isoformat()
    add_to, remove_from = ("allow", "deny") if enable else ("deny", "allow")
    setattr(
        policy,
        remove_from,
        [e for e in getattr(policy, remove_from) if e["rule"] not in changing_set],
    )
    present = set(_patterns(getattr(policy, add_to)))
    getattr(policy, add_to).extend(_entry(key, now) for key in changing if key not in present)
    # An exact rule in one list replaces one in the other, so the result is the asked state.
    if policy.default_model in changing_set and not enable:
        raise PolicyError(
            f"This would disable the default model {policy.default_model}. "
            f"Choose another default model first, or narrow the filter."
        )
    _check_default(organization, policy)
    policy.save()
    state = "enabled" if enable else "disabled"
    audit_record(
        actor=actor,
        action=f"providers.models_{state}",
        organization=organization,
        target=policy,
        target_label=f"{len(changing):,} model(s) {state}",
        before={"status": "disabled" if enable else "enabled", "models": _summarize(changing)},
        after={"status": state, "models": _summarize(changing), "count": len(changing)},
    )
    gate_changed(organization.pk)
    return result


def excluded_by_opt_out(reason: str) -> bool:
    return Reason(reason) in OPT_OUT_REASONS


# --- the gateway standing (pushed down by billing) ----------------------------------------------


def gateway_credit_record(*, organization_id: int, has_credit: bool) -> None:
    """billing calls this, in the ledger write's transaction, when a balance crosses zero."""
    updated = GatewayStanding.objects.filter(organization_id=organization_id).update(
        has_credit=has_credit, updated_at=timezone.now()
    )
    if not updated:
        GatewayStanding.objects.create(organization_id=organization_id, has_credit=has_credit)
    gate_changed(organization_id)
