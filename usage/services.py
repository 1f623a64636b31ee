"""Writes for the usage app that people make: ingest keys. (Events: ingest.py; rollups: rollup.py.)"""

import hashlib
import secrets

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from audit.services import Actor, audit_record
from organizations.models import Organization
from organizations.permissions import Capability, role_can
from organizations.selectors import membership_role

from .models import IngestKey, KeyScope

KEY_PREFIX = "kilo_ik_"


class KeyNotFound(Exception):
    pass


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _require_key_manager(actor: Actor, organization: Organization) -> None:
    if actor.user is None:
        return  # the system (a management command run by an operator)
    if not role_can(membership_role(organization, actor.user) or "", Capability.MANAGE_INGEST_KEYS):
        raise PermissionDenied("Only owners and admins manage ingest keys.")


@transaction.atomic
def ingest_key_create(
    *, actor: Actor, organization: Organization, name: str, scope: str = KeyScope.BOTH
) -> tuple[IngestKey, str]:
    """Create a key; returns it with its secret, which is shown once and never stored.
    `scope`: which APIs it may call (KeyScope); ValueError for anything else."""
    if scope not in KeyScope.values:
        raise ValueError(f"Unknown key scope {scope!r}.")
    _require_key_manager(actor, organization)
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    key = IngestKey.objects.create(
        organization=organization,
        name=name.strip()[:100] or "Ingest key",
        prefix=secret[:14],
        key_hash=hash_key(secret),
        scope=scope,
        created_by=actor.user,
    )
    audit_record(
        actor=actor,
        action="usage.ingest_key.create",
        organization=organization,
        target=key,
        target_label=key.name,
        after={"name": key.name, "prefix": key.prefix, "scope": key.scope},
    )
    return key, secret


@transaction.atomic
def ingest_key_revoke(*, actor: Actor, organization: Organization, public_id: str) -> IngestKey:
    _require_key_manager(actor, organization)
    key = (
        IngestKey.objects.select_for_update()
        .filter(organization=organization, public_id=public_id)
        .first()
    )
    if key is None:
        raise KeyNotFound(public_id)
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
        audit_record(
            actor=actor,
            action="usage.ingest_key.revoke",
            organization=organization,
            target=key,
            target_label=key.name,
            before={"active": True},
            after={"active": False},
        )
    return key


def ingest_key_mark_used(key: IngestKey) -> None:
    """Record last use at most once a minute per key: a conditional update, no audit row."""
    now = timezone.now()
    if key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60:
        IngestKey.objects.filter(pk=key.pk).update(last_used_at=now)
