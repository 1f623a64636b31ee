"""The gateway's two questions, answered from the organization's cached gate snapshot.

`authorize` checks, in this order: membership, seat, the model policy (catalog, allow/deny,
new models), the code-training opt-out, then credit. The first failing check is the answer.
"""

import json
from dataclasses import dataclass
from datetime import UTC, datetime, time

from organizations.gate import gate_versions

from .catalog_sync import CATALOG_VERSION_KEY, catalog_version
from .models import CatalogModel
from .policy import Reason
from .selectors import GateSnapshot, cached, gate_snapshot

# policy.Reason -> the API's coarse reason (the fine one is returned as policy_reason).
API_REASON = {
    Reason.ALLOWED: "allowed",
    Reason.MODEL_NOT_ALLOWED: "model_not_allowed",
    Reason.NOT_IN_ALLOW_LIST: "model_not_allowed",
    Reason.NEW_MODEL_NOT_ALLOWED: "model_not_allowed",
    Reason.PROVIDER_NOT_ALLOWED: "provider_not_allowed",
    Reason.PROVIDER_TRAINS: "provider_trains_on_prompts",
    Reason.PROVIDER_POLICY_UNKNOWN: "provider_trains_on_prompts",
}
DETAIL = {
    Reason.MODEL_NOT_ALLOWED: "The organization has disabled {model}.",
    Reason.NOT_IN_ALLOW_LIST: "{model} is not in the organization's allow list.",
    Reason.NEW_MODEL_NOT_ALLOWED: (
        "{model} is new in the catalog; the organization allows new models only once enabled."
    ),
    Reason.PROVIDER_NOT_ALLOWED: "The organization has disabled the provider of {model}.",
    Reason.PROVIDER_TRAINS: (
        "The organization opted out of code training and {provider} trains on prompts."
    ),
    Reason.PROVIDER_POLICY_UNKNOWN: (
        "The organization opted out of code training and {provider} does not say whether it "
        "trains on prompts (treated as yes)."
    ),
}


@dataclass(frozen=True)
class AuthorizeDecision:
    allowed: bool
    reason: str
    detail: str
    user_email: str
    model: str
    policy_reason: str = ""
    status: int = 200

    def as_dict(self) -> dict:
        return {
            "allowed": self.allowed,
            "reason": self.reason,
            "policy_reason": self.policy_reason,
            "detail": self.detail,
            "user_email": self.user_email,
            "model": self.model,
        }


def authorize(organization_id: int, user_email: str, model: str) -> AuthorizeDecision:
    snapshot = gate_snapshot(organization_id)
    email = user_email.strip().lower()

    def deny(reason: str, detail: str, policy_reason: str = "", status: int = 200):  # noqa: ANN202
        return AuthorizeDecision(False, reason, detail, email, model, policy_reason, status)

    member = snapshot.members.get(email) if snapshot else None
    if member is None:
        return deny("not_a_member", f"{email} is not a member of this organization.")
    if not member.has_seat:
        return deny(
            "no_seat",
            f"{email} has no seat: the organization has {snapshot.seats} seats for "
            f"{len(snapshot.members)} members. An owner or admin can add seats.",
        )
    decision = snapshot.decision(model)
    if decision is None:
        return deny("model_not_allowed", f"{model} is not in the model catalog.", "not_in_catalog")
    if not decision.allowed:
        provider = model.partition("/")[0]
        return deny(
            API_REASON[decision.reason],
            DETAIL[decision.reason].format(model=model, provider=provider),
            str(decision.reason),
        )
    if not snapshot.has_credit:
        return deny(
            "credits_exhausted",
            "The organization has no credits left. An owner can buy credits on the Billing tab.",
            status=402,
        )
    return AuthorizeDecision(True, "allowed", "", email, model)


def _price(value: object) -> str | None:
    return None if value is None else format(value.normalize(), "f")


def _created(model: CatalogModel) -> int:
    if model.release_date:
        return int(datetime.combine(model.release_date, time(), tzinfo=UTC).timestamp())
    return int(model.first_seen_at.timestamp())


def _model_entry(model: CatalogModel, default_model: str) -> dict:
    provider = model.provider
    key = f"{provider.slug}/{model.model_id}"
    return {
        "id": key,
        "object": "model",
        "created": _created(model),
        "owned_by": provider.slug,
        "name": model.name,
        "context_length": model.context_length,
        "max_output_tokens": model.max_output,
        "input_modalities": model.input_modalities,
        "output_modalities": model.output_modalities,
        "open_weights": model.open_weights,
        "reasoning": model.reasoning,
        "tool_call": model.tool_call,
        "default": key == default_model,
        "pricing": {
            "input": _price(model.input_price),
            "output": _price(model.output_price),
            "cache_read": _price(model.cache_read_price),
            "cache_write": _price(model.cache_write_price),
        },
        "data_policy": {
            "trains_on_prompts": provider.trains_on_prompts,
            "retains_prompts": provider.retains_prompts,
            "can_publish": provider.can_publish,
            "retention_days": provider.retention_days,
            "headquarters": provider.headquarters,
        },
    }


def _build_models_json(snapshot: GateSnapshot | None) -> bytes:
    allowed = set(snapshot.allowed_keys) if snapshot else set()
    rows = CatalogModel.objects.filter(removed_at__isnull=True).select_related("provider")
    data = [
        _model_entry(model, snapshot.default_model)
        for model in rows.order_by("provider__slug", "model_id")
        if f"{model.provider.slug}/{model.model_id}" in allowed
    ]
    return json.dumps({"object": "list", "data": data}, separators=(",", ":")).encode()


def models_json(organization_id: int) -> bytes:
    versions = gate_versions(organization_id, CATALOG_VERSION_KEY)
    catalog = versions.get(CATALOG_VERSION_KEY) or catalog_version()
    key = f"providers-models:{organization_id}:{versions['organization']}:{catalog}"
    return cached(key, lambda: _build_models_json(gate_snapshot(organization_id)))
