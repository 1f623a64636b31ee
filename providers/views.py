"""The Providers and models tab. Thin views: parse, call a selector or a service, render.

Sorting by "this organization's usage" needs the usage rollups, but usage sits above providers
(usage imports providers, never the reverse). The project's URLConf, which composes all apps,
passes usage's selector to these views as the `model_usage` argument (see `urls.org_scoped`):
no import from here to usage, no registry filled at import time, and the dependency is visible
where the URL is declared.
"""

from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from audit.services import Actor
from organizations.access import OrgAccess, org_view
from organizations.permissions import Capability

from . import selectors, services
from .catalog_source import MODALITIES
from .filters import FACTS, SORTS, STATUSES, CatalogFilters, parse_filters
from .listing import UsageByModel, catalog_listing
from .policy import REASON_TEXT
from .presenters import present

ModelUsage = Callable[..., UsageByModel]


def _no_usage(organization: object) -> UsageByModel:
    return {}


def _editable(access: OrgAccess) -> bool:
    return access.organization.is_enterprise and access.can(Capability.EDIT_POLICIES)


def _require_editor(access: OrgAccess) -> None:
    if not access.organization.is_enterprise:
        raise PermissionDenied("The model policy is part of the Enterprise plan.")


def _filters(request: HttpRequest, access: OrgAccess) -> CatalogFilters:
    # Members come to see what they may use: the effective list first.
    default = "" if access.can(Capability.EDIT_POLICIES) else "allowed"
    return parse_filters(request.GET, default_status=default)


def _tab_url(access: OrgAccess, query: str = "") -> str:
    url = reverse("providers_tab", args=[access.organization.slug])
    return f"{url}?{query}" if query else url


@require_GET
@org_view()
def providers_tab(
    request: HttpRequest, access: OrgAccess, model_usage: ModelUsage = _no_usage
) -> HttpResponse:
    organization = access.organization
    filters = _filters(request, access)
    snapshot = selectors.gate_snapshot(organization.pk)
    catalog = snapshot.catalog_version
    # Only the usage (one grouped query over the model rollups) and what the filters pick are
    # computed per request; the catalog index, the decisions and the rows' catalog cells are
    # cached per catalog version and organization gate version.
    usage = model_usage(organization)
    listing = catalog_listing(
        filters,
        snapshot.reasons,
        usage,
        settings.PROVIDERS_PAGE_SIZE,
        catalog=catalog,
        allowed=snapshot.allowed_set,
    )
    editable = _editable(access)
    # An htmx request for the table gets only the table: no policy form, no summary.
    partial = bool(request.htmx and request.htmx.target == "providers-body")
    default_decision = snapshot.decision(snapshot.default_model) if snapshot.default_model else None
    last_sync, last_applied_sync = (None, None) if partial else selectors.last_syncs()
    context = {
        "access": access,
        "org": organization,
        "filters": filters,
        "listing": listing,
        "rows": present(listing.rows, catalog, editable=editable, org_slug=organization.slug),
        "back": filters.querystring(),
        "enable_url": reverse("providers_model_enable", args=[organization.slug]),
        "disable_url": reverse("providers_model_disable", args=[organization.slug]),
        "policy": snapshot.policy_form,
        "editable": editable,
        "excluded_by_opt_out": snapshot.excluded_by_opt_out,
        "effective_count": len(snapshot.allowed_keys),
        "default_decision": default_decision,
        "default_model": snapshot.default_model,
        "facts": FACTS,
        "statuses": STATUSES,
        "sorts": SORTS,
        "modalities": MODALITIES,
        "reason_text": REASON_TEXT,
        "last_sync": last_sync,
        "last_applied_sync": last_applied_sync,
        "active_tab": "providers",
    }
    if partial:
        return render(request, "providers/_providers_body.html", context)
    return render(request, "providers/providers_tab.html", context)


@require_POST
@org_view(Capability.EDIT_POLICIES)
def providers_policy(request: HttpRequest, access: OrgAccess) -> HttpResponse:
    _require_editor(access)
    try:
        services.model_policy_update(
            actor=Actor.from_request(request),
            organization=access.organization,
            allow=request.POST.get("allow", ""),
            deny=request.POST.get("deny", ""),
            allow_new_models=request.POST.get("allow_new_models") == "on",
            default_model=request.POST.get("default_model", ""),
        )
    except services.PolicyError as error:
        messages.error(request, f"The model policy was not changed. {error}")
        return redirect(_tab_url(access) + "#policy")
    messages.success(request, "Model policy saved. The gateway applies it from now on.")
    return redirect(_tab_url(access) + "#policy")


def _bulk_target(request: HttpRequest, access: OrgAccess, data) -> tuple[CatalogFilters, list]:  # noqa: ANN001
    filters = parse_filters(data)
    snapshot = selectors.gate_snapshot(access.organization.pk)
    listing = catalog_listing(
        filters,
        snapshot.reasons,
        {},
        1,
        catalog=snapshot.catalog_version,
        allowed=snapshot.allowed_set,
    )
    return filters, listing.keys


def _action(value: str) -> bool:
    if value not in ("enable", "disable"):
        raise PermissionDenied("Unknown bulk action.")  # only a forged form gets here
    return value == "enable"


@require_GET
@org_view(Capability.EDIT_POLICIES)
def providers_bulk_confirm(request: HttpRequest, access: OrgAccess) -> HttpResponse:
    _require_editor(access)
    enable = _action(request.GET.get("action", ""))
    filters, keys = _bulk_target(request, access, request.GET)
    preview = services.bulk_preview(access.organization, keys, enable=enable)
    return render(
        request,
        "providers/bulk_confirm.html",
        {
            "access": access,
            "org": access.organization,
            "filters": filters,
            "enable": enable,
            "action": "enable" if enable else "disable",
            "matching": len(keys),
            "preview": preview,
            "sample": keys[:10],
            "active_tab": "providers",
        },
    )


@require_POST
@org_view(Capability.EDIT_POLICIES)
def providers_bulk_apply(request: HttpRequest, access: OrgAccess) -> HttpResponse:
    _require_editor(access)
    enable = _action(request.POST.get("action", ""))
    filters, keys = _bulk_target(request, access, request.POST)
    expected = request.POST.get("expected", "")
    if expected != str(len(keys)):
        messages.error(
            request,
            f"The filtered list changed since you confirmed ({len(keys):,} models match now). "
            f"Nothing was changed; review and confirm again.",
        )
        return redirect(_tab_url(access, filters.catalog_query))
    try:
        result = services.model_policy_bulk_set(
            actor=Actor.from_request(request),
            organization=access.organization,
            keys=keys,
            enable=enable,
        )
    except services.PolicyError as error:
        messages.error(request, f"Nothing was changed. {error}")
        return redirect(_tab_url(access, filters.catalog_query))
    state = "enabled" if enable else "disabled"
    note = (
        f" {result.held_by_opt_out:,} stay excluded by the code-training opt-out."
        if result.held_by_opt_out
        else ""
    )
    messages.success(request, f"{result.changed:,} models {state}.{note}")
    return redirect(_tab_url(access, filters.catalog_query))


def _toggle(request: HttpRequest, access: OrgAccess, *, enable: bool) -> HttpResponse:
    _require_editor(access)
    key = request.POST.get("model", "")
    back = _tab_url(access, request.POST.get("back", "")[:2000])
    if key not in selectors.catalog_keys():
        messages.error(request, "That model is not in the catalog.")
        return redirect(back)
    try:
        result = services.model_policy_bulk_set(
            actor=Actor.from_request(request),
            organization=access.organization,
            keys=[key],
            enable=enable,
        )
    except services.PolicyError as error:
        messages.error(request, f"{key} was not changed. {error}")
        return redirect(back)
    if result.held_by_opt_out:
        messages.warning(
            request, f"{key} is enabled, but the code-training opt-out still excludes it."
        )
    else:
        messages.success(request, f"{key} {'enabled' if enable else 'disabled'}.")
    return redirect(back)


@require_POST
@org_view(Capability.EDIT_POLICIES)
def providers_model_enable(request: HttpRequest, access: OrgAccess) -> HttpResponse:
    return _toggle(request, access, enable=True)


@require_POST
@org_view(Capability.EDIT_POLICIES)
def providers_model_disable(request: HttpRequest, access: OrgAccess) -> HttpResponse:
    return _toggle(request, access, enable=False)
