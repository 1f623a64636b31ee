"""The Audit logs tab (Enterprise), its exports and the retention setting. Thin views."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_POST

from organizations.access import OrgAccess, org_view
from organizations.permissions import Capability
from organizations.selectors import member_names

from . import charts, selectors
from .actions import CATALOGUE, CATEGORY_LABELS, Category
from .export import csv_lines, jsonl_lines
from .filters import AuditFilters, parse_filters
from .services import MAX_RETENTION_YEARS, Actor, RetentionError, export_record, retention_update


def _filters(request: HttpRequest, access: OrgAccess) -> tuple[AuditFilters, int | None, dict]:
    """Raises ValueError for a damaged cursor."""
    filters = parse_filters(request.GET, time_zone=access.organization.time_zone)
    members = member_names(access.organization.pk)
    by_public_id = {public_id: user_id for user_id, (public_id, _, _) in members.items()}
    member_user_id = by_public_id.get(filters.member)
    if filters.member and member_user_id is None:
        # A former member's events stay findable by address through the search box.
        messages.warning(request, "That member is not in the organization; showing everyone.")
        filters = AuditFilters(**{**filters.__dict__, "member": ""})
    return filters, member_user_id, members


def _upgrade(request: HttpRequest, access: OrgAccess) -> HttpResponse:
    context = {
        "org": access.organization,
        "access": access,
        "recorded": selectors.recorded_events(access.organization),
        "active_tab": "audit",
    }
    return render(request, "audit/upgrade.html", context)


@require_GET
@org_view(Capability.VIEW_AUDIT_LOG)
def audit_tab(request: HttpRequest, access: OrgAccess) -> HttpResponse:
    organization = access.organization
    if not organization.is_enterprise:
        return _upgrade(request, access)
    try:
        filters, member_user_id, members = _filters(request, access)
    except ValueError as error:
        return HttpResponseBadRequest(str(error), content_type="text/plain; charset=utf-8")
    page = selectors.event_page(organization, filters, member_user_id=member_user_id)
    context = {
        "org": organization,
        "access": access,
        "filters": filters,
        "page": page,
        "next_url": _page_url(organization.slug, filters, page.next_cursor),
        "export_query": urlencode(filters.as_params()),
        "active_tab": "audit",
    }
    if request.htmx and request.htmx.target == "audit-more":
        return render(request, "audit/_rows.html", context)  # "Older events": the next rows
    totals = selectors.totals(organization, filters, member_user_id=member_user_id)
    context |= {
        "totals": totals,
        "chart": charts.events_per_period(totals),
        "chain": selectors.chain_status(organization),
        "actions": sorted(CATALOGUE.values(), key=lambda a: (a.category, a.label)),
        "categories": [(c.value, CATEGORY_LABELS[c]) for c in Category],
        "members": sorted(
            (
                (pid, f"{name} <{email}>" if name else email)
                for pid, name, email in members.values()
            ),
            key=lambda item: item[1].lower(),
        ),
        "retention_choices": range(1, MAX_RETENTION_YEARS + 1),
    }
    if request.htmx and request.htmx.target == "audit-body":
        return render(request, "audit/_body.html", context)
    return render(request, "audit/audit_tab.html", context)


def _page_url(slug: str, filters: AuditFilters, cursor: object) -> str:
    if cursor is None:
        return ""
    params = {**filters.as_params(), "cursor": cursor.encode()}  # type: ignore[attr-defined]
    return f"{reverse('audit_tab', args=[slug])}?{urlencode(params)}"


def _export(request: HttpRequest, access: OrgAccess, kind: str) -> HttpResponse:
    organization = access.organization
    if not organization.is_enterprise:
        messages.info(request, "Exporting the audit log is part of the Enterprise plan.")
        return redirect("audit_tab", org_slug=organization.slug)
    try:
        filters, member_user_id, _ = _filters(request, access)
    except ValueError as error:
        return HttpResponseBadRequest(str(error), content_type="text/plain; charset=utf-8")
    export_record(
        actor=Actor.from_request(request),
        action=f"export.audit_{kind}",
        organization=organization,
        filters=filters.as_params(),
    )
    events = selectors.export_rows(organization, filters, member_user_id=member_user_id)
    lines = csv_lines(events, filters.tz) if kind == "csv" else jsonl_lines(events, filters.tz)
    content_type = "text/csv" if kind == "csv" else "application/x-ndjson"
    response = StreamingHttpResponse(lines, content_type=f"{content_type}; charset=utf-8")
    name = f"{organization.slug}-audit-{filters.start}-{filters.end}.{kind}"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "private, no-store"
    return response


@require_GET
@org_view(Capability.VIEW_AUDIT_LOG)
def audit_export_csv(request: HttpRequest, access: OrgAccess) -> HttpResponse:
    return _export(request, access, "csv")


@require_GET
@org_view(Capability.VIEW_AUDIT_LOG)
def audit_export_jsonl(request: HttpRequest, access: OrgAccess) -> HttpResponse:
    return _export(request, access, "jsonl")


@require_POST
@org_view(Capability.EDIT_SETTINGS)
def audit_retention(request: HttpRequest, access: OrgAccess) -> HttpResponse:
    try:
        years = int(request.POST.get("years", ""))
    except ValueError:
        messages.error(request, "Choose how many years to keep audit events.")
        return redirect("audit_tab", org_slug=access.organization.slug)
    try:
        retention_update(
            actor=Actor.from_request(request), organization=access.organization, years=years
        )
    except RetentionError as error:
        messages.error(request, str(error))
    else:
        plural = "s" if years != 1 else ""
        messages.success(request, f"Audit events are now kept for {years} year{plural}.")
    return redirect("audit_tab", org_slug=access.organization.slug)
