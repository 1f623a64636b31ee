"""The one way to record an audit event."""

from dataclasses import dataclass
from typing import Any

from django.db import models, transaction
from django.http import HttpRequest
from django.utils import timezone

from .models import AuditEvent


@dataclass(frozen=True)
class Actor:
    """Who did something, and from where. Built once per request, passed to every service."""

    user: Any | None
    ip_address: str | None = None
    user_agent: str = ""

    @classmethod
    def from_request(cls, request: HttpRequest) -> "Actor":
        user = request.user if request.user.is_authenticated else None
        return cls(
            user=user,
            ip_address=request.META.get("REMOTE_ADDR") or None,
            user_agent=request.META.get("HTTP_USER_AGENT", "")[:512],
        )

    @classmethod
    def system(cls) -> "Actor":
        return cls(user=None)

    @property
    def email(self) -> str:
        return getattr(self.user, "email", "") or ""


def audit_record(
    *,
    actor: Actor,
    action: str,
    organization: models.Model | None = None,
    target: models.Model | None = None,
    target_label: str = "",
    before: dict | None = None,
    after: dict | None = None,
) -> AuditEvent:
    """Write one audit row. Must run inside the transaction that makes the change."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("audit_record() must be called inside the change's transaction.")
    target_id = ""
    if target is not None:
        target_id = str(getattr(target, "public_id", None) or target.pk)
    return AuditEvent.objects.create(
        organization=organization,
        actor=actor.user,
        actor_email=actor.email,
        ip_address=actor.ip_address,
        user_agent=actor.user_agent,
        action=action,
        target_type=target._meta.model_name if target is not None else "",
        target_id=target_id,
        target_label=(target_label or (str(target) if target is not None else ""))[:255],
        before=before,
        after=after,
        created_at=timezone.now(),
    )
