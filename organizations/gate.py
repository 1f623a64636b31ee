"""A per-organization version token for caches of "who may do what" (the gateway check).

Apps above organizations cache answers that depend on an organization's members, seats, plan,
policy or balance (providers' /api/v1/authorize). Every service that changes one of those calls
`gate_changed(organization_id)`; readers put `gate_version(organization_id)` in their cache key,
so a change makes every older entry unreachable. The token is random rather than a counter:
should the cache lose it, a new token can never revive an entry written under an old one.
"""

import uuid

from django.core.cache import cache
from django.db import transaction

TIMEOUT = None  # the token lives until replaced; entries keyed by it carry their own timeout


def _key(organization_id: int) -> str:
    return f"org-gate-version:{organization_id}"


def gate_version(organization_id: int) -> str:
    key = _key(organization_id)
    version = cache.get(key)
    if version is None:
        cache.add(key, uuid.uuid4().hex, TIMEOUT)
        version = cache.get(key)
    return version


def gate_versions(organization_id: int, *other_keys: str) -> dict:
    """The organization's token and other cache values (e.g. a catalog version) in one trip."""
    key = _key(organization_id)
    found = cache.get_many([key, *other_keys])
    if key not in found:
        found[key] = gate_version(organization_id)
    return {"organization": found.pop(key), **found}


def _replace(organization_id: int) -> None:
    cache.set(_key(organization_id), uuid.uuid4().hex, TIMEOUT)


def gate_changed(organization_id: int) -> None:
    """Invalidate now and again once the change commits: a reader between the two may cache
    the not-yet-committed old state under the first new token, never under the second."""
    _replace(organization_id)
    transaction.on_commit(lambda: _replace(organization_id))
