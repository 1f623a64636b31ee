"""The one way to record an audit event, and the audit app's own writes.

`audit_record()` runs inside the caller's transaction (it refuses otherwise), refuses actions
that are not in the catalogue (audit/actions.py), and appends the event to its organization's
hash chain while holding that chain's head row locked (audit/chain.py).
"""

import uuid
import zoneinfo
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, models, transaction
from django.http import HttpRequest
from django.utils import timezone

from . import context
from .actions import get_action
from .chain import event_hash, normalize_ip, normalize_json
from .models import ActorType, AuditEvent, AuditTrail

MAX_RETENTION_YEARS = 7
DEFAULT_RETENTION_YEARS = 1


@dataclass(frozen=True)
class Actor:
    """Who did something, and from where. Built once per request, passed to every service.

    `actor_type` is derived when left empty: a user when there is one, else the ambient actor
    (the running Celery task or Stripe event, see audit.context), else "system".
    """

    user: Any | None
    ip_address: str | None = None
    user_agent: str = ""
    actor_type: str = ""
    label: str = ""

    @classmethod
    def from_request(cls, request: HttpRequest) -> "Actor":
        user = request.user if request.user.is_authenticated else None
        return cls(
            user=user,
            ip_address=request.META.get("REMOTE_ADDR") or None,
            user_agent=request.META.get("HTTP_USER_AGENT", "")[:512],
        )

    @classmethod
    def system(cls, label: str = "") -> "Actor":
        return cls(user=None, label=label)

    @classmethod
    def stripe(cls, label: str) -> "Actor":
        return cls(user=None, actor_type=ActorType.STRIPE, label=label)

    @classmethod
    def api_key(cls, name: str, *, ip_address: str | None = None, user_agent: str = "") -> "Actor":
        return cls(
            user=None,
            actor_type=ActorType.API_KEY,
            label=name,
            ip_address=ip_address,
            user_agent=user_agent[:512],
        )

    @property
    def email(self) -> str:
        return getattr(self.user, "email", "") or ""

    def resolved(self) -> tuple[str, str]:
        """(actor_type, label) as recorded."""
        if self.actor_type:
            return self.actor_type, self.label
        if self.user is not None:
            return ActorType.USER, self.label
        ambient = context.current()
        if ambient is not None:
            return ambient.actor_type, self.label or ambient.label
        return ActorType.SYSTEM, self.label


def audit_record(
    *,
    actor: Actor,
    action: str,
    organization: models.Model | None = None,
    target: models.Model | None = None,
    target_label: str = "",
    target_type: str = "",
    target_id: str = "",
    before: dict | None = None,
    after: dict | None = None,
) -> AuditEvent:
    """Write one audit row. Must run inside the transaction that makes the change."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("audit_record() must be called inside the change's transaction.")
    get_action(action)  # raises UnknownAuditAction
    if target is not None:
        target_type = target_type or target._meta.model_name
        target_id = target_id or str(getattr(target, "public_id", None) or target.pk)
        target_label = target_label or str(target)
    actor_type, actor_label = actor.resolved()
    event = AuditEvent(
        public_id=uuid.uuid4(),
        organization_id=organization.pk if organization is not None else None,
        actor_type=actor_type,
        actor=actor.user,
        actor_email=actor.email[:254],
        actor_label=actor_label[:255],
        ip_address=normalize_ip(actor.ip_address),
        user_agent=(actor.user_agent or "")[:512],
        action=action,
        target_type=target_type[:64],
        target_id=str(target_id)[:64],
        target_label=target_label[:255],
        before=normalize_json(before),
        after=normalize_json(after),
    )
    if organization is None:
        event.created_at = timezone.now()
        event.save()
        return event
    trail = _lock_trail(organization.pk)
    # Read the clock under the lock, so that time order and chain order agree.
    event.created_at = timezone.now()
    event.sequence = trail.last_sequence + 1
    event.prev_hash = trail.last_hash
    event.hash = event_hash(event.prev_hash, chain_values(event))
    event.save()
    AuditTrail.objects.filter(pk=trail.pk).update(
        last_sequence=event.sequence, last_hash=event.hash
    )
    _count(trail, organization, event.created_at, action, event.actor_id)
    return event


def chain_values(event: AuditEvent) -> dict:
    return {
        "public_id": event.public_id,
        "organization_id": event.organization_id,
        "sequence": event.sequence,
        "created_at": event.created_at,
        "actor_type": event.actor_type,
        "actor_email": event.actor_email,
        "actor_label": event.actor_label,
        "ip_address": event.ip_address,
        "user_agent": event.user_agent,
        "action": event.action,
        "target_type": event.target_type,
        "target_id": event.target_id,
        "target_label": event.target_label,
        "before": event.before,
        "after": event.after,
    }


def _lock_trail(organization_id: int) -> AuditTrail:
    """The chain head, locked until the caller's transaction ends: concurrent writers of one
    organization queue here, so no two events get the same sequence or previous hash."""
    trail = AuditTrail.objects.select_for_update().filter(pk=organization_id).first()
    if trail is None:
        # First event of the organization: create the head; a concurrent first writer's row
        # wins the conflict and we lock that one.
        AuditTrail.objects.bulk_create(
            [AuditTrail(organization_id=organization_id)], ignore_conflicts=True
        )
        trail = AuditTrail.objects.select_for_update().get(pk=organization_id)
    return trail


def _count(
    trail: AuditTrail, organization: Any, moment: datetime, action: str, actor_id: int | None
) -> None:
    """One more event on its local day (and its acting user's, when there is one). Safe without
    a race: the caller holds the trail lock."""
    time_zone = trail.count_time_zone
    if not time_zone:
        time_zone = getattr(organization, "time_zone", "") or "UTC"
        AuditTrail.objects.filter(pk=trail.pk).update(count_time_zone=time_zone)
    # After a change of the organization's zone, days stay in the counts' zone until the daily
    # task rebuilds them (the tab counts from the events meanwhile).
    day = moment.astimezone(zoneinfo.ZoneInfo(time_zone)).date()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO audit_auditcount (organization_id, day, action, count) "
            "VALUES (%s, %s, %s, 1) ON CONFLICT (organization_id, day, action) "
            "DO UPDATE SET count = audit_auditcount.count + 1",
            [trail.pk, day, action],
        )
        if actor_id is not None:
            cursor.execute(
                "INSERT INTO audit_auditmembercount (organization_id, actor_id, day, action, count) "
                "VALUES (%s, %s, %s, %s, 1) ON CONFLICT (organization_id, actor_id, day, action) "
                "DO UPDATE SET count = audit_auditmembercount.count + 1",
                [trail.pk, actor_id, day, action],
            )


# --- the audit app's own writes ---------------------------------------------------------------


class RetentionError(ValueError):
    """The requested retention is not allowed; the message is safe to show."""


def retention_update(*, actor: Actor, organization: Any, years: int) -> AuditTrail:
    """Change how long the organization's audit events are kept (Enterprise: 1 to 7 years)."""
    if not getattr(organization, "is_enterprise", False):
        raise RetentionError("Choosing the retention is an Enterprise feature; Teams keeps 1 year.")
    if not DEFAULT_RETENTION_YEARS <= years <= MAX_RETENTION_YEARS:
        raise RetentionError(
            f"Keep audit events between {DEFAULT_RETENTION_YEARS} and {MAX_RETENTION_YEARS} years."
        )
    with transaction.atomic():
        trail = _lock_trail(organization.pk)
        before = trail.retention_years
        if before != years:
            AuditTrail.objects.filter(pk=trail.pk).update(retention_years=years)
            trail.retention_years = years
            audit_record(
                actor=actor,
                action="audit.retention_changed",
                organization=organization,
                target=organization,
                before={"retention_years": before},
                after={"retention_years": years},
            )
    return trail


def export_record(
    *,
    actor: Actor,
    action: str,
    organization: Any,
    target: models.Model | None = None,
    target_label: str = "",
    filters: dict | None = None,
) -> AuditEvent:
    """An export or download (no state change of its own, but audited), in its own transaction.

    `filters` is the query string as given: kept short (it is user input) but unchanged."""
    if filters:
        filters = {str(k)[:40]: str(v)[:200] for k, v in list(filters.items())[:20]}
    with transaction.atomic():
        return audit_record(
            actor=actor,
            action=action,
            organization=organization,
            target=target if target is not None else organization,
            target_label=target_label,
            after={"filters": filters} if filters else None,
        )


def sign_in_record(
    *, action: str, request: HttpRequest | None, account: Any | None, email: str = ""
) -> list[AuditEvent]:
    """A sign-in, failed sign-in or sign-out of `account` (None: an address with no account).

    One event in each organization of the account, so that its owners and admins see it in
    their log; one event of no organization when the account belongs to none. A failed sign-in
    has no acting user (anyone can type an address): the attempted address is the actor's label.
    """
    meta = getattr(request, "META", {}) if request is not None else {}
    failed = action == "auth.sign_in_failed"
    label = getattr(account, "email", "") or email
    actor = Actor(
        user=None if failed else account,
        ip_address=meta.get("REMOTE_ADDR") or None,
        user_agent=meta.get("HTTP_USER_AGENT", "")[:512],
        actor_type=ActorType.USER,
        label=label if failed else "",
    )
    # The reverse accessor of organizations.Membership: audit sits below the organizations app
    # and does not import it.
    organizations = (
        [m.organization for m in account.memberships.select_related("organization")]
        if account is not None and account.pk is not None
        else []
    )
    organizations.sort(key=lambda org: org.pk)  # one lock order for every writer
    with transaction.atomic():
        return [
            audit_record(
                actor=actor,
                action=action,
                organization=organization,
                target_type="user",
                target_label=label,
            )
            for organization in (organizations or [None])
        ]


def retention_cutoff(now: datetime, years: int) -> datetime:
    try:
        return now.replace(year=now.year - years)
    except ValueError:  # 29 February
        return now.replace(year=now.year - years, day=28) + timedelta(days=1)
