"""The Usage tab, its CSV export, ingest-key management and the API docs page. Thin views."""

import hashlib
from dataclasses import dataclass, replace
from datetime import date, timedelta

from django.contrib import messages
from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET, require_POST

from audit.services import Actor, export_record
from organizations.access import OrgAccess, org_view
from organizations.permissions import Capability
from subscriptions.selectors import current_period_dates

from . import charts, selectors, services, tables
from .api import api
from .export import csv_rows, organization_csv_rows
from .filters import RANGES, parse_filters
from .models import KeyScope


def _filters(request: HttpRequest, access: OrgAccess, **overrides: str):  # noqa: ANN202
    all_members = access.can(Capability.VIEW_ALL_USAGE)
    filters = parse_filters(
        {**request.GET.dict(), **overrides},
        time_zone=access.organization.time_zone,
        billing_period=current_period_dates(access.organization),
    )
    if all_members and not access.organization.usage_analytics:
        filters = replace(filters, member="")  # no per-member view: the member filter is ignored
    return selectors.scope_filters(
        access.organization, filters, viewer_id=request.user.pk, all_members=all_members
    ), all_members


def per_member_analytics(access: OrgAccess) -> bool:
    """Whether this viewer sees usage broken down by member (charts, table, filter, CSV column).

    The organization's "Usage analytics" policy: off means nobody sees per-member analytics;
    owners and admins see organization totals, and a member still sees only their own usage
    (never the organization's). Recording, rollups and billing are not affected."""
    return access.can(Capability.VIEW_ALL_USAGE) and access.organization.usage_analytics


def _range_totals(page: selectors.UsagePage) -> selectors.Totals:
    totals = selectors.Totals()
    for row in page.days:
        totals.add(row.totals)
    return totals


MEMBER_SORTS = {
    "name": lambda r: r.name.lower(),
    "requests": lambda r: r.totals.requests,
    "spend": lambda r: r.totals.cost,
    "tokens": lambda r: r.totals.tokens,
    "errors": lambda r: r.totals.error_rate,
}


def _range_has_usage(page: selectors.UsagePage) -> bool:
    return any(row.totals.requests for row in page.days)


@dataclass(frozen=True)
class NewPeriod:
    """A billing period that started on `start`, and the one before it.

    Given to the page as `new_period` when the default range (this billing period) was only a
    day old or had no usage yet: the tab then opens on the last 30 days and says why.
    """

    start: date
    previous_start: date
    previous_end: date
    had_usage: bool = False


def _from_first_month_with_usage(months: list) -> list:
    """The month comparison starts at the first month with usage, not with empty bars."""
    for index, row in enumerate(months):
        if row.totals.requests:
            return months[index:]
    return months


@require_GET
@org_view()
def usage_tab(request: HttpRequest, access: OrgAccess) -> HttpResponse:
    filters, all_members = _filters(request, access)
    per_member = per_member_analytics(access)
    page = selectors.usage_page(access.organization, filters, all_members=per_member)
    new_period = None
    if "range" not in request.GET and page.has_data and filters.range == "period":
        had_usage = _range_has_usage(page)
        if filters.start == filters.today or not had_usage:
            # The first screen never opens on an empty or one-day range while there is usage
            # to show (the first day of a billing period): it opens on the last 30 days.
            new_period = NewPeriod(
                start=filters.start,
                previous_start=filters.previous_start,
                previous_end=filters.start - timedelta(days=1),
                had_usage=had_usage,
            )
            filters, all_members = _filters(request, access, range="30d")
            page = selectors.usage_page(access.organization, filters, all_members=per_member)
    page.months = _from_first_month_with_usage(page.months)
    has_usage = page.has_data and _range_has_usage(page)
    previous_period = new_period
    if filters.range == "period":
        previous_period = NewPeriod(
            filters.start, filters.previous_start, filters.start - timedelta(days=1)
        )
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
        "per_member": per_member,
        "has_usage": has_usage,
        "new_period": new_period,
        "previous_period": previous_period,
        "sort": sort,
        "dir": direction,
        "active_tab": "usage",
    }
    body = _usage_body(request, context)
    if request.htmx and request.htmx.target == "usage-body":
        return HttpResponse(body)
    return render(request, "usage/usage_tab.html", {**context, "usage_body": body})


def _usage_body(request: HttpRequest, context: dict) -> str:
    """The tab's body (figures, tables), rendered once per page and cached beside it.

    Its HTML depends only on what the key holds: the page's cache key (organization, time
    zone, filters, member names, rollup version), the table's sort, what the viewer may see
    and the organization's name. It holds no per-user token (no form posts from it).
    """
    page, org, filters = context["page"], context["org"], context["filters"]
    identity = repr(
        (
            page.cache_key,
            context["sort"],
            context["dir"],
            context["all_members"],
            context["per_member"],
            context["new_period"],
            org.name,
            org.slug,
        )
    )
    body_key = f"{page.cache_key}:body:{hashlib.sha256(identity.encode()).hexdigest()[:24]}"
    body = cache.get(body_key) if page.cache_key else None
    if body is None:
        previous_period = context["previous_period"]
        body = render_to_string(
            "usage/_usage_body.html",
            {
                **context,
                "range_totals": _range_totals(page),
                "day_rows": tables.day_rows(page),
                "weekly_rows": tables.weekly_rows(page),
                "member_rows": tables.member_rows(page),
                "charts": charts.build_all_cached(page, org.time_zone)
                if context["has_usage"]
                else {},
                "range_queries": {key: filters.query(range=key) for key in ("30d", "90d")},
                "previous_period_query": filters.query(
                    range="custom",
                    start=previous_period.previous_start.isoformat(),
                    end=previous_period.previous_end.isoformat(),
                )
                if previous_period
                else "",
            },
            request=request,
        )
        if page.cache_key:
            cache.set(body_key, body, timeout=selectors.PAGE_CACHE_SECONDS)
    return mark_safe(body)  # noqa: S308 - our own template's output, cached as rendered


@require_GET
@org_view()
def usage_export(request: HttpRequest, access: OrgAccess) -> StreamingHttpResponse:
    filters, _ = _filters(request, access)
    if filters.error:  # never export another range than the one asked for
        return HttpResponse(filters.error, status=400, content_type="text/plain; charset=utf-8")
    export_record(
        actor=Actor.from_request(request),
        action="export.usage_csv",
        organization=access.organization,
        filters=request.GET.dict(),
    )
    rows = (
        csv_rows(access.organization, filters)
        if filters.own_only or per_member_analytics(access)
        else organization_csv_rows(access.organization, filters)
    )
    response = StreamingHttpResponse(rows, content_type="text/csv; charset=utf-8")
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
        "scopes": KeyScope.choices,
        "active_tab": "organization",
    }
    if request.htmx:
        return render(request, "usage/_ingest_key_list.html", context)
    return render(request, "usage/ingest_keys.html", context)


@require_POST
@org_view(Capability.MANAGE_INGEST_KEYS)
def ingest_key_create(request: HttpRequest, access: OrgAccess) -> HttpResponse:
    name = (request.POST.get("name") or "").strip()
    scope = request.POST.get("scope") or KeyScope.BOTH
    if not name:
        messages.error(request, "Give the key a name, e.g. the gateway that will use it.")
        return redirect("usage_ingest_keys", org_slug=access.organization.slug)
    if scope not in KeyScope.values:
        messages.error(request, "Choose what the key may call: usage ingest, gateway, or both.")
        return redirect("usage_ingest_keys", org_slug=access.organization.slug)
    key, secret = services.ingest_key_create(
        actor=Actor.from_request(request), organization=access.organization, name=name, scope=scope
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
            body_schema = body.get("application/json", {}).get("schema", {})
            batch = "items" in body_schema
            item_schema = _resolve(schema, body_schema.get("items", body_schema))
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
                    "batch": batch,
                    "example": operation.get("x-example", "").replace(
                        "{base}", f"{request.scheme}://{request.get_host()}"
                    ),
                    "responses": sorted(operation.get("responses", {}).items()),
                }
            )
    return render(request, "usage/api_docs.html", {"schema": schema, "operations": operations})


def _resolve(schema: dict, spec: dict) -> dict:
    """Follow a "$ref" into the schema's components (ninja refers to named body schemas)."""
    ref = spec.get("$ref", "")
    if ref.startswith("#/components/schemas/"):
        return schema.get("components", {}).get("schemas", {}).get(ref.rsplit("/", 1)[1], {})
    return spec


def _type_label(spec: dict) -> str:
    if "anyOf" in spec:
        return " or ".join(_type_label(s) for s in spec["anyOf"] if s.get("type") != "null")
    if "enum" in spec:
        return " | ".join(f'"{v}"' for v in spec["enum"])
    label = spec.get("type", "")
    if spec.get("format"):
        label += f" ({spec['format']})"
    return label
