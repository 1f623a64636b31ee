"""Organization tab and member management. Thin: parse input, call one service, respond."""

from datetime import datetime

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.adapter import remember_invitation_link
from accounts.selectors import user_has_any_verified_email
from audit.services import Actor

from . import invitations, selectors, services
from .access import OrgAccess, org_view
from .forms import (
    InvitationForm,
    MemberListQuery,
    OrganizationCreateForm,
    OrganizationSettingsForm,
    PolicyForm,
    RestoreForm,
    RoleForm,
    TransferForm,
)
from .member_restore import UNDO_WINDOW, membership_restore, undo_deadline
from .models import Role
from .permissions import Capability

UNDO_SESSION_KEY = "member_removal_undo"


def _tab_url(access: OrgAccess) -> str:
    return reverse("organization_tab", args=[access.organization.slug])


# --- landing ------------------------------------------------------------------------------------


@require_GET
@login_required
def home(request: HttpRequest) -> HttpResponse:
    """After login: the one organization, a chooser for several, creation for none."""
    memberships = selectors.memberships_for_user(request.user)
    if len(memberships) == 1:
        return redirect("organization_tab", org_slug=memberships[0].organization.slug)
    if not memberships:
        return redirect("organization_create")
    return redirect("organization_chooser")


@require_GET
@login_required
def organization_chooser(request: HttpRequest) -> HttpResponse:
    memberships = selectors.memberships_for_user(request.user)
    return render(request, "organizations/chooser.html", {"memberships": memberships})


@require_http_methods(["GET", "POST"])
@login_required
def organization_create(request: HttpRequest) -> HttpResponse:
    verified = user_has_any_verified_email(request.user)
    form = OrganizationCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            organization = services.organization_create(
                actor=Actor.from_request(request),
                name=data["name"],
                slug=data["slug"] or services.unique_slug_for(data["name"]),
                time_zone=data["time_zone"],
            )
        except services.ServiceError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, f"{organization.name} is ready. Invite your team next.")
            return redirect("organization_tab", org_slug=organization.slug)
    status = 400 if form.errors else 200
    return render(
        request,
        "organizations/create.html",
        {"form": form, "verified": verified, "new_org_seats": settings.NEW_ORGANIZATION_SEATS},
        status=status,
    )


@require_GET
@org_view()
def organization_root(request: HttpRequest, access: OrgAccess) -> HttpResponse:
    return redirect(_tab_url(access))


# --- the tab ------------------------------------------------------------------------------------


@require_GET
@org_view()
def organization_tab(request: HttpRequest, access: OrgAccess) -> HttpResponse:
    query = MemberListQuery(request.GET)
    params = query.cleaned_data if query.is_valid() else {}
    sort = params.get("sort") or "name"
    descending = params.get("dir") == "desc"
    search = (params.get("q") or "").strip()
    page, rows = selectors.member_page(
        access.organization,
        viewer_id=request.user.pk,
        search=search,
        sort=sort,
        descending=descending,
        page_number=params.get("page") or 1,
    )
    context = {
        "access": access,
        "org": access.organization,
        "page": page,
        "rows": rows,
        "search": search,
        "sort": sort,
        "dir": "desc" if descending else "asc",
        "can_manage": access.can(Capability.MANAGE_MEMBERS),
        "is_owner": access.role == Role.OWNER,
        "role_choices": Role.choices,
    }
    if request.htmx and request.htmx.target == "member-table":
        return render(request, "organizations/_member_table.html", context)
    context.update(
        {
            "active_tab": "organization",
            "seats": selectors.seat_usage(access.organization),
            "roles": selectors.role_breakdown(access.organization),
            "invitations": selectors.pending_invitation_list(access.organization)
            if context["can_manage"]
            else [],
            "policy_form": PolicyForm(
                initial={
                    "code_training_opt_out": access.organization.code_training_opt_out,
                    "usage_analytics": access.organization.usage_analytics,
                }
            ),
            "can_edit_policies": access.can(Capability.EDIT_POLICIES),
            "undo_removal": _pending_undo(request, access) if context["can_manage"] else None,
            "can_edit_settings": access.can(Capability.EDIT_SETTINGS),
        }
    )
    return render(request, "organizations/organization_tab.html", context)


@require_http_methods(["GET", "POST"])
@org_view(Capability.EDIT_SETTINGS)
def organization_settings(request: HttpRequest, access: OrgAccess) -> HttpResponse:
    org = access.organization
    initial = {"name": org.name, "time_zone": org.time_zone, "billing_email": org.billing_email}
    form = OrganizationSettingsForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        services.organization_update_settings(
            actor=Actor.from_request(request), organization=org, **form.cleaned_data
        )
        messages.success(request, "Organization settings saved.")
        return redirect(_tab_url(access))
    return render(
        request,
        "organizations/settings.html",
        {"form": form, "org": org, "access": access, "active_tab": "organization"},
        status=400 if form.errors else 200,
    )


@require_POST
@org_view(Capability.EDIT_POLICIES)
def organization_policies(request: HttpRequest, access: OrgAccess) -> HttpResponse:
    form = PolicyForm(request.POST)
    form.is_valid()  # two checkboxes: absent means off, so the form is always valid
    services.organization_update_policies(
        actor=Actor.from_request(request), organization=access.organization, **form.cleaned_data
    )
    messages.success(request, "Data-collection policies saved.")
    return redirect(_tab_url(access) + "#policies")


# --- invitations --------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@org_view(Capability.MANAGE_MEMBERS)
def invitation_create(request: HttpRequest, access: OrgAccess) -> HttpResponse:
    form = InvitationForm(
        request.POST or None, grantable_roles=services.invitable_roles(access.role)
    )
    if request.method == "POST" and form.is_valid():
        try:
            invitation = invitations.invitation_create(
                actor=Actor.from_request(request),
                organization=access.organization,
                **form.cleaned_data,
            )
        except services.ServiceError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, f"Invitation sent to {invitation.email}.")
            return redirect(_tab_url(access))
    context = {
        "form": form,
        "org": access.organization,
        "access": access,
        "active_tab": "organization",
        "seats": selectors.seat_usage(access.organization),
        "is_owner": access.role == Role.OWNER,
    }
    return render(request, "organizations/invite.html", context, status=400 if form.errors else 200)


def _invitation_action(request: HttpRequest, access: OrgAccess, service, done: str) -> HttpResponse:  # noqa: ANN001
    try:
        invitation = service(
            actor=Actor.from_request(request),
            organization=access.organization,
            public_id=request.resolver_match.kwargs["invitation_id"],
        )
    except services.ServiceError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, done.format(email=invitation.email))
    return redirect(_tab_url(access) + "#invitations")


@require_POST
@org_view(Capability.MANAGE_MEMBERS)
def invitation_resend(request: HttpRequest, access: OrgAccess, invitation_id: str) -> HttpResponse:
    return _invitation_action(
        request, access, invitations.invitation_resend, "A new invitation link was sent to {email}."
    )


@require_http_methods(["GET", "POST"])
@org_view(Capability.MANAGE_MEMBERS)
def invitation_revoke(request: HttpRequest, access: OrgAccess, invitation_id: str) -> HttpResponse:
    """GET asks "Revoke the invitation to <email>?"; the POST from that page revokes it."""
    if request.method == "POST":
        return _invitation_action(
            request, access, invitations.invitation_revoke, "The invitation to {email} was revoked."
        )
    invitation = selectors.pending_invitation(access.organization, invitation_id)
    if invitation is None:
        messages.error(request, "That invitation is no longer pending.")
        return redirect(_tab_url(access) + "#invitations")
    return render(
        request,
        "organizations/invitation_revoke.html",
        {
            "access": access,
            "org": access.organization,
            "active_tab": "organization",
            "invitation": invitation,
        },
    )


@require_http_methods(["GET", "POST"])
def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    """The link from the email. Not org-scoped: the token is the credential."""
    try:
        invitation = invitations.invitation_for_token(token)
    except services.InvitationUnusable as error:
        return render(
            request,
            "organizations/invitation_unusable.html",
            {"reason": error.reason, "message": str(error)},
            status=410 if error.reason != "unknown" else 404,
        )
    if not request.user.is_authenticated:
        # Following the emailed link proves control of the invited address, and of that address
        # only: a sign-up with it needs no second verification email; any other address does.
        remember_invitation_link(request, invitation.email)
        return render(request, "organizations/invitation_accept.html", {"invitation": invitation})
    error_message = ""
    if request.method == "POST":
        try:
            membership = invitations.invitation_accept(
                actor=Actor.from_request(request), token=token
            )
        except services.InvitationUnusable as error:
            return render(
                request,
                "organizations/invitation_unusable.html",
                {"reason": error.reason, "message": str(error)},
                status=410,
            )
        except services.ServiceError as error:
            error_message = str(error)
        else:
            messages.success(request, f"Welcome to {membership.organization.name}.")
            return redirect("organization_tab", org_slug=membership.organization.slug)
    return render(
        request,
        "organizations/invitation_accept.html",
        {"invitation": invitation, "error": error_message},
        status=400 if error_message else 200,
    )


# --- members ------------------------------------------------------------------------------------


@require_POST
@org_view(Capability.MANAGE_MEMBERS)
def member_change_role(request: HttpRequest, access: OrgAccess, member_id: str) -> HttpResponse:
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose Owner, Admin or Member.")
        return redirect(_tab_url(access))
    try:
        membership = services.membership_change_role(
            actor=Actor.from_request(request),
            organization=access.organization,
            public_id=member_id,
            role=form.cleaned_data["role"],
        )
    except services.ServiceError as error:
        messages.error(request, str(error))
    else:
        messages.success(
            request, f"{membership.user.email} is now {membership.get_role_display()}."
        )
    return redirect(_tab_url(access))


@require_http_methods(["GET", "POST"])
@org_view(Capability.MANAGE_MEMBERS)
def member_remove(request: HttpRequest, access: OrgAccess, member_id: str) -> HttpResponse:
    """GET asks "Remove <name> (<email>)?"; the POST from that page removes, and the tab then
    offers an Undo for a minute (kept in the session, checked again by the service)."""
    if request.method == "GET":
        row = selectors.member_row(access.organization, member_id)
        if row is None:
            messages.error(request, "That person is not a member of this organization.")
            return redirect(_tab_url(access))
        if row.role != Role.MEMBER and access.role != Role.OWNER:
            raise PermissionDenied("Only owners can remove owners and admins.")
        return render(
            request,
            "organizations/member_remove.html",
            {
                "access": access,
                "org": access.organization,
                "active_tab": "organization",
                "row": row,
                "undo_seconds": int(UNDO_WINDOW.total_seconds()),
            },
        )
    try:
        removal = services.membership_remove(
            actor=Actor.from_request(request), organization=access.organization, public_id=member_id
        )
    except services.ServiceError as error:
        messages.error(request, str(error))
    else:
        request.session[UNDO_SESSION_KEY] = {
            "org": access.organization.slug,
            "removal": str(removal.public_id),
            "email": removal.target_label,
            "until": undo_deadline(removal).isoformat(),
        }
        messages.success(request, f"{removal.target_label} was removed and their seat freed.")
    return redirect(_tab_url(access))


def _pending_undo(request: HttpRequest, access: OrgAccess) -> dict | None:
    """The removal this browser may still undo here, if its minute has not passed."""
    undo = request.session.get(UNDO_SESSION_KEY)
    if not undo or undo.get("org") != access.organization.slug:
        return None
    if timezone.now() >= datetime.fromisoformat(undo["until"]):
        del request.session[UNDO_SESSION_KEY]
        return None
    return undo


@require_POST
@org_view(Capability.MANAGE_MEMBERS)
def member_restore(request: HttpRequest, access: OrgAccess) -> HttpResponse:
    form = RestoreForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Nothing to undo.")
        return redirect(_tab_url(access))
    try:
        membership = membership_restore(
            actor=Actor.from_request(request),
            organization=access.organization,
            removal_id=form.cleaned_data["removal"],
        )
    except services.ServiceError as error:
        messages.error(request, str(error))
    else:
        messages.success(
            request, f"Undone: {membership.user.email} is back, as {membership.get_role_display()}."
        )
    request.session.pop(UNDO_SESSION_KEY, None)
    return redirect(_tab_url(access))


@require_http_methods(["GET", "POST"])
@org_view()
def organization_leave(request: HttpRequest, access: OrgAccess) -> HttpResponse:
    error = ""
    if request.method == "POST":
        try:
            services.membership_leave(
                actor=Actor.from_request(request), organization=access.organization
            )
        except services.ServiceError as exc:
            error = str(exc)
        else:
            messages.success(request, f"You left {access.organization.name}.")
            return redirect("home")
    return render(
        request,
        "organizations/leave.html",
        {
            "org": access.organization,
            "access": access,
            "error": error,
            "active_tab": "organization",
        },
        status=400 if error else 200,
    )


@require_http_methods(["GET", "POST"])
@org_view(Capability.TRANSFER_OWNERSHIP)
def ownership_transfer(request: HttpRequest, access: OrgAccess) -> HttpResponse:
    org = access.organization
    form = TransferForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if form.cleaned_data["confirm"].strip() != org.slug:
            form.add_error("confirm", f"Type “{org.slug}” exactly to confirm.")
        else:
            try:
                new_owner = services.ownership_transfer(
                    actor=Actor.from_request(request),
                    organization=org,
                    public_id=str(form.cleaned_data["new_owner"]),
                )
            except services.ServiceError as error:
                form.add_error(None, str(error))
            else:
                messages.success(
                    request, f"{new_owner.user.email} now owns {org.name}; you are an admin."
                )
                return redirect(_tab_url(access))
    candidates = selectors.member_choices(org, exclude_user_id=request.user.pk)
    return render(
        request,
        "organizations/transfer.html",
        {
            "form": form,
            "org": org,
            "access": access,
            "candidates": candidates,
            "active_tab": "organization",
        },
        status=400 if form.errors else 200,
    )


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    message = (
        str(exception)
        if isinstance(exception, PermissionDenied) and str(exception)
        else ("Your role in this organization does not allow this.")
    )
    return render(request, "403.html", {"message": message}, status=403)
