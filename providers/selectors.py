"""Reads: catalog facts, an organization's rules and effective list, the gateway snapshot, and
price history for usage.

The effective list and the gateway snapshot are cached under two version tokens: the
organization's (organizations.gate, replaced by every policy, membership, seat, plan or balance
change) and the catalog's (replaced by every sync that changes something). A process-local copy
in front of the shared cache keeps /api/v1/authorize to one small cache read per call.
"""

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

from django.core.cache import cache
from django.db.models import Case, IntegerField, Value, When

from organizations.gate import gate_versions
from organizations.models import Membership, Organization, Role

from .catalog_source import PriceData
from .catalog_sync import CATALOG_VERSION_KEY, catalog_version
from .models import CatalogModel, CatalogSync, GatewayStanding, ModelPolicy, ModelPrice
from .policy import OPT_OUT_REASONS, Decision, ModelFacts, PolicyRules, Reason, Rule, effective

SNAPSHOT_TIMEOUT = 3600
_LOCAL_SIZE = 512
_local: OrderedDict[str, object] = OrderedDict()


def _local_get(key: str) -> object | None:
    value = _local.get(key)
    if value is not None:
        _local.move_to_end(key)
    return value


def _local_put(key: str, value: object) -> None:
    _local[key] = value
    while len(_local) > _LOCAL_SIZE:
        _local.popitem(last=False)


def cached_local(key: str, build) -> object:  # noqa: ANN001
    """Process-local only, for what is cheaper to rebuild than to unpickle from the shared
    cache (or not picklable). `key` must carry the version tokens it depends on."""
    value = _local_get(key)
    if value is None:
        value = build()
        _local_put(key, value)
    return value


def cached(key: str, build) -> object:  # noqa: ANN001
    """Process-local copy first, then the shared cache, then `build()`."""
    value = _local_get(key)
    if value is None:
        value = cache.get(key)
        if value is None:
            value = build()
            cache.set(key, value, SNAPSHOT_TIMEOUT)
        _local_put(key, value)
    return value


# --- catalog ------------------------------------------------------------------------------------


def _facts_from_db() -> tuple[ModelFacts, ...]:
    rows = CatalogModel.objects.filter(removed_at__isnull=True).values_list(
        "provider__slug", "model_id", "first_seen_at", "provider__trains_on_prompts"
    )
    return tuple(
        ModelFacts(key=f"{slug}/{model_id}", provider=slug, first_seen_at=seen, trains_on_prompts=t)
        for slug, model_id, seen, t in rows
    )


def catalog_facts(version: str | None = None) -> tuple[ModelFacts, ...]:
    version = version or catalog_version()
    return cached(f"providers-facts:{version}", _facts_from_db)


def last_sync() -> CatalogSync | None:
    return CatalogSync.objects.first()


def last_applied_sync() -> CatalogSync | None:
    return CatalogSync.objects.exclude(status="refused").first()


def last_syncs() -> tuple[CatalogSync | None, CatalogSync | None]:
    """The last sync and the last one that was not refused: one query unless the last was
    refused."""
    last = last_sync()
    if last is None or last.status != "refused":
        return last, last
    return last, last_applied_sync()


# --- policy -------------------------------------------------------------------------------------


def _rules_from(entries: list) -> tuple[Rule, ...]:
    return tuple(
        Rule(
            entry["rule"],
            datetime.fromisoformat(entry["added_at"]) if entry.get("added_at") else None,
        )
        for entry in entries
    )


def policy_for(organization: Organization) -> ModelPolicy | None:
    return ModelPolicy.objects.filter(organization=organization).first()


def rules_for(organization: Organization, policy: ModelPolicy | None = None) -> PolicyRules:
    """The rules in force. Allow/deny lists are an Enterprise feature: on Teams (or after a
    downgrade) only the code-training opt-out applies, on top of "everything allowed"."""
    opted_out = organization.code_training_opt_out
    if not organization.is_enterprise:
        return PolicyRules(opted_out=opted_out)
    policy = policy if policy is not None else policy_for(organization)
    if policy is None:
        return PolicyRules(opted_out=opted_out)
    return PolicyRules(
        allow=_rules_from(policy.allow),
        deny=_rules_from(policy.deny),
        allow_new_models=policy.allow_new_models,
        new_models_frozen_at=policy.new_models_frozen_at,
        opted_out=opted_out,
    )


# --- the gateway snapshot -----------------------------------------------------------------------


@dataclass(frozen=True)
class Member:
    user_id: int
    has_seat: bool


@dataclass(frozen=True)
class PolicyForm:
    """The policy as the tab's form shows it (one rule per line); no policy row = the default."""

    allow_text: str = "*"
    deny_text: str = ""
    allow_new_models: bool = True
    new_models_frozen_at: datetime | None = None
    default_model: str = ""

    @classmethod
    def of(cls, policy: ModelPolicy | None) -> "PolicyForm":
        if policy is None:
            return cls()
        return cls(
            allow_text="".join(f"{entry['rule']}\n" for entry in policy.allow),
            deny_text="".join(f"{entry['rule']}\n" for entry in policy.deny),
            allow_new_models=policy.allow_new_models,
            new_models_frozen_at=policy.new_models_frozen_at,
            default_model=policy.default_model,
        )


@dataclass(frozen=True)
class GateSnapshot:
    """Everything /api/v1/authorize and /api/v1/models need about one organization."""

    organization_id: int
    reasons: dict[str, str]  # every active catalog model -> policy.Reason value
    members: dict[str, Member]  # lower-cased email -> member
    has_credit: bool
    default_model: str
    seats: int
    catalog_version: str = ""  # the catalog version it was built from
    policy_form: PolicyForm = PolicyForm()  # for the tab: the rules as written

    def decision(self, key: str) -> Decision | None:
        reason = self.reasons.get(key)
        if reason is None:
            return None
        reason = Reason(reason)
        return Decision(reason == Reason.ALLOWED, reason)

    # Derived once per snapshot (a snapshot never changes; a change makes a new one). They are
    # computed after the snapshot is shared, so they are never pickled into the cache.
    @cached_property
    def allowed_keys(self) -> tuple[str, ...]:
        return tuple(key for key, reason in self.reasons.items() if reason == Reason.ALLOWED)

    @cached_property
    def allowed_set(self) -> frozenset[str]:
        return frozenset(self.allowed_keys)

    @cached_property
    def excluded_by_opt_out(self) -> int:
        return sum(1 for reason in self.reasons.values() if reason in OPT_OUT_REASONS)


ROLE_RANK = Case(
    When(role=Role.OWNER, then=Value(0)),
    When(role=Role.ADMIN, then=Value(1)),
    default=Value(2),
    output_field=IntegerField(),
)


def members_with_seats(organization: Organization) -> dict[str, Member]:
    """Members in seat order (owners, admins, then by joining); the first `seat_count` hold a
    seat. More members than seats happens when a scheduled seat decrease takes effect."""
    rows = (
        Membership.objects.filter(organization=organization)
        .annotate(rank=ROLE_RANK)
        .order_by("rank", "joined_at", "id")
        .values_list("user__email", "user_id")
    )
    return {
        email.lower(): Member(user_id=user_id, has_seat=index < organization.seat_count)
        for index, (email, user_id) in enumerate(rows)
    }


def _build_snapshot(organization: Organization, catalog: str) -> GateSnapshot:
    policy = policy_for(organization)
    decisions = effective(catalog_facts(catalog), rules_for(organization, policy))
    standing = GatewayStanding.objects.filter(organization=organization).first()
    return GateSnapshot(
        organization_id=organization.pk,
        reasons={key: str(decision.reason) for key, decision in decisions.items()},
        members=members_with_seats(organization),
        has_credit=bool(standing and standing.has_credit),
        default_model=policy.default_model if policy and organization.is_enterprise else "",
        seats=organization.seat_count,
        catalog_version=catalog,
        policy_form=PolicyForm.of(policy),
    )


def gate_snapshot(organization_id: int) -> GateSnapshot | None:
    """The organization's snapshot, or None if it no longer exists."""
    versions = gate_versions(organization_id, CATALOG_VERSION_KEY)
    catalog = versions.get(CATALOG_VERSION_KEY) or catalog_version()
    key = f"providers-gate:v2:{organization_id}:{versions['organization']}:{catalog}"

    def build() -> GateSnapshot | None:
        organization = Organization.objects.filter(pk=organization_id).first()
        return _build_snapshot(organization, catalog) if organization else None

    return cached(key, build)


def effective_decisions(organization: Organization) -> dict[str, Decision]:
    snapshot = gate_snapshot(organization.pk)
    return {key: snapshot.decision(key) for key in snapshot.reasons} if snapshot else {}


def allowed_model_keys(organization_id: int) -> set[str]:
    """For the Usage tab: which (provider/model) the current policy allows."""
    snapshot = gate_snapshot(organization_id)
    return set(snapshot.allowed_keys) if snapshot else set()


def catalog_keys() -> set[str]:
    return {facts.key for facts in catalog_facts()}


# --- prices for usage ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PriceHistory:
    """Each (provider, model)'s prices, oldest first, as (in force from, price)."""

    prices: dict[tuple[str, str], list[tuple[datetime, PriceData]]]

    def price_at(self, provider: str, model: str, when: datetime) -> PriceData | None:
        found = None
        for effective_from, price in self.prices.get((provider, model), ()):
            if effective_from > when:
                break
            found = price
        return found


def price_history(pairs: Iterable[tuple[str, str]]) -> PriceHistory:
    """One query for a batch of (provider, model) pairs."""
    pairs = set(pairs)
    prices: dict[tuple[str, str], list] = {}
    if pairs:
        rows = (
            ModelPrice.objects.filter(
                model__provider__slug__in={p for p, _ in pairs},
                model__model_id__in={m for _, m in pairs},
            )
            .order_by("effective_from")
            .values_list(
                "model__provider__slug",
                "model__model_id",
                "effective_from",
                "input",
                "output",
                "cache_read",
                "cache_write",
            )
        )
        for provider, model, effective_from, *values in rows:
            if (provider, model) in pairs:
                prices.setdefault((provider, model), []).append(
                    (effective_from, PriceData(*values))
                )
    return PriceHistory(prices)
