"""The Subscriptions tab and its actions. Thin: parse input, call one service, respond."""

import uuid
import zoneinfo

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from audit.services import Actor
from billing.services import default_card
from kilo_dashboard.money import format_cents
from organizations.access import OrgAccess, org_view
from organizations.models import Plan
from organizations.permissions import Capability

from . import intents, renewal, resume, selectors, services
from .forms import AddSeatsForm, CancelForm, IntervalForm, PlanForm, SeatsForm, StartForm
from .intents import AuthenticationRequired, ChangeInProgress
from .plans import Interval, is_upgrade
from .services import SubscriptionError


def _tab(access: OrgAccess, anchor: str = "") -> str:
    url = reverse("subscriptions_tab", args=[access.organization.slug])
    return f"{url}#{anchor}" if anchor else url


def _context(access: OrgAccess, **extra: object) -> dict:
    return {"access": access, "org": access.organization, "active_tab": "subscriptions", **extra}


def _render(request: HttpRequest, access: OrgAccess, template: str, context: dict) -> HttpResponse:
    """Render with dates in the organization's time zone, as the page says."""
    with timezone.override(zoneinfo.ZoneInfo(access.organization.time_zone or "UTC")):
        return render(request, template, context)


def _day(access: OrgAccess, moment) -> str:  # noqa: ANN001
    local = timezone.localtime(moment, zoneinfo.ZoneInfo(access.organization.time_zone or "UTC"))
    return f"{local:%-d %B %Y}"


def _first_error(form) -> str:  # noqa: ANN001
    return next(iter(form.errors.values()))[0] if form.errors else "Check the form."


@require_GET
@org_view(Capability.VIEW_ORGANIZATION)
def subscriptions_tab(request: HttpRequest, access: OrgAccess) -> HttpResponse:
    data = selectors.tab_data(access.organization)
    context = _context(
        access,
        data=data,
        sub=data.subscription,
        can_add=access.can(Capability.ADD_SEATS),
        can_manage=access.can(Capability.MANAGE_PLAN),
        has_card=default_card(access.organization) is not None,
        intervals=Interval.choices,
        plan_choices=Plan.choices,
        request_key=uuid.uuid4(),
    )
    return _render(request, access, "subscriptions/subscriptions_tab.html", context)


@require_POST
@org_view(Capability.MANAGE_PLAN)
def subscriptions_start(request: HttpRequest, access: OrgAccess) -> HttpResponse:
    form = StartForm(request.POST)
    if not form.is_valid():
        messages.error(request, _first_error(form))
        return redirect(_tab(access, "start"))
    try:
        sub = intents.subscription_start(
            actor=Actor.from_request(request),
            organization=access.organization,
            plan=form.cleaned_data["plan"],
            interval=form.cleaned_data["interval"],
            seats=form.cleaned_data["seats"],
            request_key=str(form.cleaned_data["request_key"] or ""),
        )
    except AuthenticationRequired as needed:
        return _authenticate(access, needed)
    except ChangeInProgress as error:
        messages.warning(request, str(error))
    except SubscriptionError as error:
        messages.error(request, str(error))
    else:
        messages.success(
            request, f"Subscribed: {sub.quantity} seats of Kilo {sub.get_plan_display()}."
        )
    return redirect(_tab(access))


@require_GET
@org_view(Capability.ADD_SEATS)
def subscriptions_seats_preview(request: HttpRequest, access: OrgAccess) -> HttpResponse:
    form = SeatsForm(request.GET)
    if not form.is_valid():
        messages.error(request, _first_error(form))
        return redirect(_tab(access, "seats"))
    try:
        preview = services.change_preview(access.organization, add_seats=form.cleaned_data["seats"])
    except SubscriptionError as error:
        messages.error(request, str(error))
        return redirect(_tab(access, "seats"))
    context = _context(
        access,
        preview=preview,
        seats=form.cleaned_data["seats"],
        request_key=uuid.uuid4(),
        card=default_card(access.organization),
    )
    return _render(request, access, "subscriptions/confirm_seats.html", context)


@require_POST
@org_view(Capability.ADD_SEATS)
def subscriptions_seats_add(request: HttpRequest, access: OrgAccess) -> HttpResponse:
    form = AddSeatsForm(request.POST)
    if not form.is_valid():
        messages.error(request, _first_error(form))
        return redirect(_tab(access, "seats"))
    try:
        change = intents.seats_add(
            actor=Actor.from_request(request),
            organization=access.organization,
            seats=form.cleaned_data["seats"],
            proration_date=form.cleaned_data["proration_date"],
            request_key=str(form.cleaned_data["request_key"]),
            expected_cents=form.cleaned_data["expected_cents"],
        )
    except AuthenticationRequired as needed:
        return _authenticate(access, needed)
    except ChangeInProgress as error:
        messages.warning(request, str(error))
    except SubscriptionError as error:
        messages.error(request, str(error))
    else:
        _added(request, change)
    return redirect(_tab(access, "seats"))


def _added(request: HttpRequest, change) -> None:  # noqa: ANN001
    if change.kind == "subscribed":
        messages.success(
            request, f"Subscribed: {change.to_quantity} seats of Kilo {Plan(change.to_plan).label}."
        )
        return
    if change.kind == "upgraded":
        messages.success(request, f"Upgraded to Kilo {Plan(change.to_plan).label}.")
        return
    messages.success(
        request,
        f"You now have {change.to_quantity} seats; {format_cents(change.amount_cents)} was "
        "charged for the rest of this period.",
    )


def _authenticate(access: OrgAccess, needed: AuthenticationRequired) -> HttpResponse:
    return redirect(
        "subscriptions_authenticate",
        org_slug=access.organization.slug,
        pending_id=needed.intent.public_id,
    )


@require_GET
@org_view(Capability.ADD_SEATS)
def subscriptions_authenticate(
    request: HttpRequest, access: OrgAccess, pending_id: str
) -> HttpResponse:
    """The bank's check (3-D Secure) for a seat or plan payment, through Stripe.js."""
    pending = resume.intent_for(access.organization, pending_id)
    if pending is None:
        raise Http404("No such payment.")
    if pending.state != "requires_action":
        return redirect(_tab(access, "seats"))
    try:
        intent = resume.payment_intent_for(pending)
    except SubscriptionError as error:
        messages.error(request, str(error))
        return redirect(_tab(access, "seats"))
    context = _context(
        access,
        pending=pending,
        client_secret=intent.client_secret,
        stripe_js_url=settings.STRIPE_JS_URL,
        publishable_key=settings.STRIPE_PUBLISHABLE_KEY,
    )
    return _render(request, access, "subscriptions/authenticate.html", context)


@require_POST
@org_view(Capability.ADD_SEATS)
def subscriptions_authenticate_complete(
    request: HttpRequest, access: OrgAccess, pending_id: str
) -> HttpResponse:
    try:
        change = resume.intent_complete(
            actor=Actor.from_request(request),
            organization=access.organization,
            public_id=pending_id,
        )
    except ChangeInProgress as error:
        messages.warning(request, str(error))
    except SubscriptionError as error:
        messages.error(request, str(error))
    else:
        _added(request, change)
    return redirect(_tab(access, "seats"))


@require_POST
@org_view(Capability.MANAGE_PLAN)
def subscriptions_seats_remove(request: HttpRequest, access: OrgAccess) -> HttpResponse:
    form = SeatsForm(request.POST)
    if not form.is_valid():
        messages.error(request, _first_error(form))
        return redirect(_tab(access, "seats"))
    try:
        change = renewal.seats_remove_at_renewal(
            actor=Actor.from_request(request),
            organization=access.organization,
            seats=form.cleaned_data["seats"],
        )
    except SubscriptionError as error:
        messages.error(request, str(error))
    else:
        messages.success(
            request,
            f"From {_day(access, change.effective_at)} on you will have {change.to_quantity} seats."
            if change.kind == "seats_removal_scheduled"
            else "The scheduled seat removal was withdrawn.",
        )
    return redirect(_tab(access, "seats"))


@require_POST
@org_view(Capability.MANAGE_PLAN)
def subscriptions_interval(request: HttpRequest, access: OrgAccess) -> HttpResponse:
    form = IntervalForm(request.POST)
    if not form.is_valid():
        messages.error(request, _first_error(form))
        return redirect(_tab(access, "renewal"))
    try:
        change = renewal.interval_change_at_renewal(
            actor=Actor.from_request(request),
            organization=access.organization,
            interval=form.cleaned_data["interval"],
        )
    except SubscriptionError as error:
        messages.error(request, str(error))
    else:
        label = Interval(form.cleaned_data["interval"]).label.lower()
        messages.success(
            request,
            f"Billing becomes {label} at the renewal on {_day(access, change.effective_at)}."
            if change.kind == "interval_change_scheduled"
            else f"Billing stays {label}.",
        )
    return redirect(_tab(access, "renewal"))


@require_GET
@org_view(Capability.MANAGE_PLAN)
def subscriptions_interval_preview(request: HttpRequest, access: OrgAccess) -> HttpResponse:
    """The cost of a new billing frequency (next charge: date and amount), before confirming."""
    form = IntervalForm(request.GET)
    sub = selectors.subscription_for(access.organization)
    preview = (
        selectors.interval_change_preview(sub, form.cleaned_data["interval"])
        if form.is_valid() and sub is not None and not sub.has_ended
        else None
    )
    if preview is None:
        messages.error(request, "Choose a billing frequency for a running subscription.")
        return redirect(_tab(access, "renewal"))
    context = _context(access, sub=sub, preview=preview, card=default_card(access.organization))
    return _render(request, access, "subscriptions/confirm_interval.html", context)


@require_GET
@org_view(Capability.MANAGE_PLAN)
def subscriptions_plan_preview(request: HttpRequest, access: OrgAccess) -> HttpResponse:
    form = PlanForm(request.GET)
    sub = selectors.subscription_for(access.organization)
    if not form.is_valid() or sub is None or sub.has_ended:
        messages.error(request, "Choose a plan for a running subscription.")
        return redirect(_tab(access, "plans"))
    plan = form.cleaned_data["plan"]
    preview = None
    if plan != sub.plan and is_upgrade(sub.plan, plan):
        try:
            preview = services.change_preview(access.organization, plan=plan)
        except SubscriptionError as error:
            messages.error(request, str(error))
            return redirect(_tab(access, "plans"))
    context = _context(
        access,
        sub=sub,
        plan=plan,
        plan_label=Plan(plan).label,
        preview=preview,
        request_key=uuid.uuid4(),
        card=default_card(access.organization),
    )
    return _render(request, access, "subscriptions/confirm_plan.html", context)


@require_POST
@org_view(Capability.MANAGE_PLAN)
def subscriptions_plan_change(request: HttpRequest, access: OrgAccess) -> HttpResponse:
    form = PlanForm(request.POST)
    if not form.is_valid():
        messages.error(request, _first_error(form))
        return redirect(_tab(access, "plans"))
    try:
        change = renewal.plan_change(
            actor=Actor.from_request(request),
            organization=access.organization,
            plan=form.cleaned_data["plan"],
            proration_date=form.cleaned_data["proration_date"],
            request_key=str(form.cleaned_data["request_key"] or ""),
            expected_cents=form.cleaned_data["expected_cents"],
        )
    except AuthenticationRequired as needed:
        return _authenticate(access, needed)
    except ChangeInProgress as error:
        messages.warning(request, str(error))
    except SubscriptionError as error:
        messages.error(request, str(error))
    else:
        messages.success(
            request, f"{change.get_kind_display()}: Kilo {Plan(change.to_plan).label}."
        )
    return redirect(_tab(access, "plans"))


@require_GET
@org_view(Capability.MANAGE_PLAN)
def subscriptions_cancel_confirm(request: HttpRequest, access: OrgAccess) -> HttpResponse:
    sub = selectors.subscription_for(access.organization)
    if sub is None or sub.has_ended or sub.cancel_at_period_end:
        return redirect(_tab(access, "cancel"))
    return _render(request, access, "subscriptions/cancel_confirm.html", _context(access, sub=sub))


@require_POST
@org_view(Capability.MANAGE_PLAN)
def subscriptions_cancel(request: HttpRequest, access: OrgAccess) -> HttpResponse:
    form = CancelForm(request.POST)
    try:
        if not form.is_valid():
            raise SubscriptionError("Type the organization's name to confirm.")
        change = renewal.subscription_cancel(
            actor=Actor.from_request(request),
            organization=access.organization,
            confirm_name=form.cleaned_data["confirm_name"],
        )
    except SubscriptionError as error:
        messages.error(request, str(error))
        sub = selectors.subscription_for(access.organization)
        if sub is not None and not sub.has_ended and not sub.cancel_at_period_end:
            return redirect("subscriptions_cancel_confirm", org_slug=access.organization.slug)
        return redirect(_tab(access, "cancel"))
    messages.success(
        request,
        f"The subscription ends on {_day(access, change.effective_at)}. You can undo this until then.",
    )
    return redirect(_tab(access, "cancel"))


@require_POST
@org_view(Capability.MANAGE_PLAN)
def subscriptions_cancel_undo(request: HttpRequest, access: OrgAccess) -> HttpResponse:
    try:
        renewal.subscription_cancel_undo(
            actor=Actor.from_request(request), organization=access.organization
        )
    except SubscriptionError as error:
        messages.error(request, str(error))
    else:
        messages.success(
            request, "The cancellation was withdrawn: the subscription renews as usual."
        )
    return redirect(_tab(access, "cancel"))
