"""The Usage tab, its CSV export, ingest-key management and the API docs page. Thin views."""

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from audit.services import Actor, export_record
from organizations.access import OrgAccess, org_view
from organizations.permissions import Capability
from subscriptions.selectors import current_period_dates

from . import charts, selectors, services
from .api import api
from .export import csv_rows
from .filters import RANGES, parse_filters


def _filters(request: HttpRequest, access: OrgAccess):  # noqa: ANN202
    all_members = access.can(Capability.VIEW_ALL_USAGE)
    filters = parse_filters(
        request.GET,
        time_zone=access.organization.time_zone,
        billing_period=current_period_dates(access.organization),
    )
    return selectors.scope_filters(
        access.organization, filters, viewer_id=request.user.pk, all_members=all_members
    ), all_members


MEMBER_SORTS = {
    "name": lambda r: r.name.lower(),
    "requests": lambda r: r.totals.requests,
    "spend": lambda r: r.totals.cost,
    "tokens": lambda r: r.totals.tokens,
    "errors": lambda r: r.totals.error_rate,
}


@require_GET
@org_view()
def usage_tab(request: HttpRequest, access: OrgAccess) -> HttpResponse:
    filters, all_members = _filters(request, access)
    page = selectors.usage_page(access.organization, filters, all_members=all_members)
    sort = request.GET.get("sort") if request.GET.get("sort") in MEMBER_SORTS else "spend"
    direction = "asc" if request.GET.get("dir") == "asc" else "desc"
    if page.members:
        page.members.sort(key=MEMBER_SORTS[sort], reverse=direction == "desc")
    context = {
        "access": access,
        "org": access.organization,
        "page": page,
        "filters": filters,
        "ranges": RANGES,
        "all_members": all_members,
        "charts": charts.build_all(page, access.organization.time_zone) if page.has_data else {},
        "sort": sort,
        "dir": direction,
        "active_tab": "usage",
    }
    if request.htmx and request.htmx.target == "usage-body":
        return render(request, "usage/_usage_body.html", context)
    return render(request, "usage/usage_tab.html", context)


@require_GET
@org_view()
def usage_export(request: HttpRequest, access: OrgAccess) -> StreamingHttpResponse:
    filters, _ = _filters(request, access)
    export_record(
        actor=Actor.from_request(request),
        action="export.usage_csv",
        organization=access.organization,
        filters=request.GET.dict(),
    )
    response = StreamingHttpResponse(
        csv_rows(access.organization, filters), content_type="text/csv; charset=utf-8"
    )
    name = f"{access.organization.slug}-usage-{filters.start}-{filters.end}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


# --- ingest keys (a section of the Organization tab) ---------------------------------------------


@require_GET
@org_view(Capability.MANAGE_INGEST_KEYS)
def ingest_keys(request: HttpRequest, access: OrgAccess) -> HttpResponse:
    context = {
        "org": access.organization,
        "access": access,
        "keys": selectors.ingest_keys(access.organization),
        "active_tab": "organization",
    }
    if request.htmx:
        return render(request, "usage/_ingest_key_list.html", context)
    return render(request, "usage/ingest_keys.html", context)


@require_POST
@org_view(Capability.MANAGE_INGEST_KEYS)
def ingest_key_create(request: HttpRequest, access: OrgAccess) -> HttpResponse:
    name = (request.POST.get("name") or "").strip()
    if not name:
        messages.error(request, "Give the key a name, e.g. the gateway that will use it.")
        return redirect("usage_ingest_keys", org_slug=access.organization.slug)
    key, secret = services.ingest_key_create(
        actor=Actor.from_request(request), organization=access.organization, name=name
    )
    # The secret is rendered once, in this response, and never stored.
    return render(
        request,
        "usage/ingest_key_created.html",
        {"org": access.organization, "key": key, "secret": secret, "active_tab": "organization"},
    )


@require_POST
@org_view(Capability.MANAGE_INGEST_KEYS)
def ingest_key_revoke(request: HttpRequest, access: OrgAccess, key_id: str) -> HttpResponse:
    try:
        key = services.ingest_key_revoke(
            actor=Actor.from_request(request), organization=access.organization, public_id=key_id
        )
    except services.KeyNotFound:
        raise Http404("No such key.") from None
    messages.success(request, f"Key “{key.name}” revoked: requests using it are now refused.")
    return redirect("usage_ingest_keys", org_slug=access.organization.slug)


# --- API docs -----------------------------------------------------------------------------------


@require_GET
def api_docs(request: HttpRequest) -> HttpResponse:
    """A readable page generated from the OpenAPI schema, with nothing loaded from a CDN."""
    schema = api.get_openapi_schema(path_prefix=reverse("api:api-root"))
    operations = []
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            body = operation.get("requestBody", {}).get("content", {})
            item_schema = body.get("application/json", {}).get("schema", {}).get("items", {})
            required = set(item_schema.get("required", []))
            fields = [
                {
                    "name": name,
                    "type": _type_label(spec),
                    "required": name in required,
                    "description": spec.get("description", ""),
                }
                for name, spec in item_schema.get("properties", {}).items()
            ]
            operations.append(
                {
                    "method": method.upper(),
                    "path": path,
                    "summary": operation.get("summary", ""),
                    "description": operation.get("description", ""),
                    "fields": fields,
                    "responses": sorted(operation.get("responses", {}).items()),
                }
            )
    return render(request, "usage/api_docs.html", {"schema": schema, "operations": operations})


def _type_label(spec: dict) -> str:
    if "anyOf" in spec:
        return " or ".join(_type_label(s) for s in spec["anyOf"] if s.get("type") != "null")
    if "enum" in spec:
        return " | ".join(f'"{v}"' for v in spec["enum"])
    label = spec.get("type", "")
    if spec.get("format"):
        label += f" ({spec['format']})"
    return label
