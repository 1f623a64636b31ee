"""The policy algebra as a table: one row per rule of providers/policy.py's docstring.

Used by test_policy.py (the pure function) and test_agreement.py (the tab, /api/v1/models and
/api/v1/authorize give the same answer for every row). Models are real catalog entries; the
provider facts are those of provider_data_policies.json: Anthropic does not train on API prompts
(no), DeepSeek is "unclear - treat as yes" (yes), Google depends on the tier (unknown).
Expected reasons are written by hand from the rules, not computed.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime

SONNET = "anthropic/claude-sonnet-4-5"
OPUS = "anthropic/claude-opus-4-1"
DEEPSEEK = "deepseek/deepseek-chat"
GEMINI = "google/gemini-2.5-pro"

TRAINS = {"anthropic": "no", "deepseek": "yes", "google": "unknown"}

# "New model" rows: the wildcard rule was added on RULE_ADDED; the model was first seen on
# FIRST_SEEN (after it) unless the row says it is old.
RULE_ADDED = datetime(2026, 6, 1, tzinfo=UTC)
OLD = datetime(2026, 1, 1, tzinfo=UTC)
NEW = datetime(2026, 9, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Row:
    id: str
    model: str
    expected: str
    allow: tuple[str, ...] = ("*",)
    deny: tuple[str, ...] = ()
    allow_new_models: bool = True
    opted_out: bool = False
    first_seen: datetime = field(default=OLD)


ROWS = (
    Row("default-allows-everything", SONNET, "allowed"),
    Row("empty-allow-list-allows-nothing", SONNET, "not_in_allow_list", allow=()),
    Row("provider-wildcard-allows", OPUS, "allowed", allow=("anthropic/*",)),
    Row("other-provider-not-listed", DEEPSEEK, "not_in_allow_list", allow=("anthropic/*",)),
    Row(
        "exact-deny-beats-wildcard-allow",
        SONNET,
        "model_not_allowed",
        allow=("anthropic/*",),
        deny=(SONNET,),
    ),
    Row("sibling-of-denied-model-stays", OPUS, "allowed", allow=("anthropic/*",), deny=(SONNET,)),
    Row(
        "provider-deny-beats-everything-allow",
        SONNET,
        "provider_not_allowed",
        deny=("anthropic/*",),
    ),
    Row(
        "exact-allow-beats-provider-deny",
        SONNET,
        "allowed",
        allow=("*", SONNET),
        deny=("anthropic/*",),
    ),
    Row(
        "equal-specificity-deny-wins",
        SONNET,
        "provider_not_allowed",
        allow=("anthropic/*",),
        deny=("anthropic/*",),
    ),
    Row("deny-everything", GEMINI, "provider_not_allowed", deny=("*",)),
    Row(
        "new-model-blocked-when-switch-off",
        SONNET,
        "new_model_not_allowed",
        allow=("anthropic/*",),
        allow_new_models=False,
        first_seen=NEW,
    ),
    Row(
        "old-model-still-covered-when-switch-off",
        SONNET,
        "allowed",
        allow=("anthropic/*",),
        allow_new_models=False,
        first_seen=OLD,
    ),
    Row(
        "new-model-covered-when-switch-on",
        SONNET,
        "allowed",
        allow=("anthropic/*",),
        allow_new_models=True,
        first_seen=NEW,
    ),
    Row(
        "exact-allow-lets-a-new-model-in",
        SONNET,
        "allowed",
        allow=("anthropic/*", SONNET),
        allow_new_models=False,
        first_seen=NEW,
    ),
    Row(
        "opt-out-excludes-training-provider", DEEPSEEK, "provider_trains_on_prompts", opted_out=True
    ),
    Row("opt-out-excludes-unknown-policy", GEMINI, "provider_policy_unknown", opted_out=True),
    Row("opt-out-keeps-non-training-provider", SONNET, "allowed", opted_out=True),
    Row(
        "opt-out-beats-an-exact-allow",
        DEEPSEEK,
        "provider_trains_on_prompts",
        allow=(DEEPSEEK,),
        opted_out=True,
    ),
    Row("without-opt-out-training-provider-allowed", DEEPSEEK, "allowed", opted_out=False),
    Row(
        "policy-deny-reported-before-opt-out",
        DEEPSEEK,
        "model_not_allowed",
        deny=(DEEPSEEK,),
        opted_out=True,
    ),
)
