"""Reads for the Organization tab. Plain data out; every query is scoped to one organization."""

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.paginator import Page, Paginator
from django.db.models import Case, Count, F, IntegerField, Q, QuerySet, Value, When
from django.utils import timezone

from .models import Invitation, InvitationStatus, Membership, Organization, Role


def pending_invitations(organization: Organization) -> QuerySet[Invitation]:
    return Invitation.objects.filter(
        organization=organization,
        status=InvitationStatus.PENDING,
        expires_at__gt=timezone.now(),
    )


@dataclass(frozen=True)
class SeatUsage:
    seats: int
    members: int
    pending_invitations: int

    @property
    def used(self) -> int:
        return self.members + self.pending_invitations

    @property
    def available(self) -> int:
        return max(self.seats - self.used, 0)

    @property
    def over_limit(self) -> int:
        """Seats in use beyond the limit (after a subscription ended or seats were cut)."""
        return max(self.used - self.seats, 0)

    @property
    def percent(self) -> int:
        return min(100, round(100 * self.used / self.seats)) if self.seats else 100


def seat_usage(organization: Organization) -> SeatUsage:
    return SeatUsage(
        seats=organization.seat_count,
        members=Membership.objects.filter(organization=organization).count(),
        pending_invitations=pending_invitations(organization).count(),
    )


@dataclass(frozen=True)
class RoleBreakdown:
    owners: int
    admins: int
    members: int

    @property
    def total(self) -> int:
        return self.owners + self.admins + self.members


def role_breakdown(organization: Organization) -> RoleBreakdown:
    counts = Membership.objects.filter(organization=organization).aggregate(
        owners=Count("id", filter=Q(role=Role.OWNER)),
        admins=Count("id", filter=Q(role=Role.ADMIN)),
        members=Count("id", filter=Q(role=Role.MEMBER)),
    )
    return RoleBreakdown(**counts)


MEMBER_SORTS = {
    "name": ("user__name", "user__email"),
    "email": ("user__email",),
    "role": ("role_rank", "user__email"),
    "activity": ("last_activity_at", "user__email"),
    "joined": ("joined_at", "user__email"),
}


@dataclass(frozen=True)
class MemberRow:
    public_id: str
    name: str
    email: str
    role: str
    role_label: str
    joined_at: datetime
    last_activity_at: datetime | None
    is_you: bool


def member_page(
    organization: Organization,
    *,
    viewer_id: int,
    search: str = "",
    sort: str = "name",
    descending: bool = False,
    page_number: int | str = 1,
) -> tuple[Page, list[MemberRow]]:
    """One page of the member list: two queries (count + page) whatever the organization's size."""
    queryset = (
        Membership.objects.filter(organization=organization)
        .select_related("user")
        .annotate(
            role_rank=Case(
                When(role=Role.OWNER, then=Value(0)),
                When(role=Role.ADMIN, then=Value(1)),
                default=Value(2),
                output_field=IntegerField(),
            )
        )
    )
    if search:
        queryset = queryset.filter(
            Q(user__email__icontains=search) | Q(user__name__icontains=search)
        )
    first, *tie_breakers = MEMBER_SORTS.get(sort, MEMBER_SORTS["name"])
    # Members who never used the assistant sort last in either direction.
    primary = F(first).desc(nulls_last=True) if descending else F(first).asc(nulls_last=True)
    queryset = queryset.order_by(primary, *tie_breakers, "id")
    paginator = Paginator(queryset, settings.MEMBERS_PAGE_SIZE)
    page = paginator.get_page(page_number)
    return page, [_member_row(m, viewer_id) for m in page.object_list]


def _member_row(m: Membership, viewer_id: int | None) -> MemberRow:
    return MemberRow(
        public_id=str(m.public_id),
        name=m.user.name,
        email=m.user.email,
        role=m.role,
        role_label=m.get_role_display(),
        joined_at=m.joined_at,
        last_activity_at=m.last_activity_at,
        is_you=m.user_id == viewer_id,
    )


def member_row(organization: Organization, public_id: str) -> MemberRow | None:
    """One member of this organization by public id (None if not one of its members)."""
    m = (
        Membership.objects.select_related("user")
        .filter(organization=organization, public_id=public_id)
        .first()
    )
    return _member_row(m, None) if m else None


def pending_invitation(organization: Organization, public_id: str) -> Invitation | None:
    return pending_invitations(organization).filter(public_id=public_id).first()


def pending_invitation_list(organization: Organization) -> list[Invitation]:
    return list(pending_invitations(organization).select_related("invited_by").order_by("email"))


def memberships_for_user(user) -> list[Membership]:  # noqa: ANN001
    return list(
        Membership.objects.filter(user=user)
        .select_related("organization")
        .order_by("organization__name")
    )


def owner_count(organization: Organization) -> int:
    return Membership.objects.filter(organization=organization, role=Role.OWNER).count()


def member_choices(organization: Organization, *, exclude_user_id: int) -> list[tuple[str, str]]:
    """(public id, label) of every member but one, for a select box."""
    rows = (
        Membership.objects.filter(organization=organization)
        .exclude(user_id=exclude_user_id)
        .order_by("user__email")
        .values_list("public_id", "user__email", "user__name")
    )
    return [(str(pid), f"{name} <{email}>" if name else email) for pid, email, name in rows]


def member_user_ids_by_email(organization_id: int, emails: set[str]) -> dict[str, int]:
    """{lower-cased email: user id} for the given addresses that belong to members (one query)."""
    from django.db.models.functions import Lower

    lowered = {email.lower() for email in emails}
    rows = (
        Membership.objects.filter(organization_id=organization_id)
        .annotate(email_lower=Lower("user__email"))
        .filter(email_lower__in=lowered)
        .values_list("email_lower", "user_id")
    )
    return dict(rows)


def member_names(organization_id: int) -> dict[int, tuple[str, str, str]]:
    """{user id: (membership public id, name, email)} for every member (one query)."""
    rows = Membership.objects.filter(organization_id=organization_id).values_list(
        "user_id", "public_id", "user__name", "user__email"
    )
    return {user_id: (str(public_id), name, email) for user_id, public_id, name, email in rows}


def membership_role(organization: Organization, user) -> str | None:  # noqa: ANN001
    """The user's role in the organization, or None for a non-member."""
    return (
        Membership.objects.filter(organization=organization, user_id=user.pk)
        .values_list("role", flat=True)
        .first()
    )
