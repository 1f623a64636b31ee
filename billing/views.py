"""Billing tab and its actions. Thin: parse input, call one service, respond."""

import csv
import heapq
import logging
import zoneinfo
from decimal import Decimal

from django.conf import settings
from django.contrib import messages
from django.db import DatabaseError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from audit.services import Actor, export_record
from kilo_dashboard.templatetags.money import cents, microdollars
from organizations.access import OrgAccess, org_view
from organizations.permissions import Capability
from subscriptions.selectors import history_changes

from . import selectors, services, stripe_gateway, webhooks
from .forms import (
    HISTORY_KIND_CHOICES,
    AutoTopUpForm,
    BillingDetailsForm,
    BuyCreditsForm,
    CardConfirmForm,
    HistoryFilterForm,
    LowBalanceAlertForm,
    PromotionForm,
    dollars_to_cents,
    dollars_to_microdollars,
)
from .models import PaymentStatus
from .services import BillingError

logger = logging.getLogger(__name__)


def _tab(access: OrgAccess, anchor: str = "") -> str:
    url = reverse("billing_tab", args=[access.organization.slug])
    return f"{url}#{anchor}" if anchor else url


def _history_filters(request: HttpRequest, access: OrgAccess) -> tuple[HistoryFilterForm, dict]:
    form = HistoryFilterForm(request.GET)
    params = form.cleaned_data if form.is_valid() else {}
    filters = {
        "kind": params.get("kind") or "",
        "date_from": params.get("date_from"),
        "date_to": params.get("date_to"),
    }
    entries = selectors.history(access.organization, **filters)
    changes = history_changes(access.organization, **filters)
    return form, {
        "entries": entries,
        "changes": changes,
        "filters": filters,
        "page": params.get("page") or 1,
    }


@require_GET
@org_view(Capability.VIEW_BILLING)
def billing_tab(request: HttpRequest, access: OrgAccess) -> HttpResponse:
    organization = access.organization
    history_form, history = _history_filters(request, access)
    data = selectors.overview(organization)
    alert, top_up = data["alert"], data["top_up"]
    context = {
        **data,
        "access": access,
        "org": organization,
        "active_tab": "billing",
        "can_manage": access.can(Capability.MANAGE_BILLING),
        "default_card": next((c for c in data["cards"] if c.is_default), None),
        "history_form": history_form,
        "history_page": selectors.history_page(history["entries"], history["page"]),
        "history_query": request.GET.urlencode(),
        "buy_form": BuyCreditsForm(initial={"preset": "10000"}),
        "promo_form": PromotionForm(),
        "alert_form": LowBalanceAlertForm(
            initial={
                "enabled": alert.enabled if alert else False,
                "threshold": Decimal(alert.threshold_microdollars if alert else 50_000_000)
                / 1_000_000,
                "recipients": ", ".join(alert.recipients) if alert else "",
            }
        ),
        "top_up_form": AutoTopUpForm(
            initial={
                "enabled": top_up.enabled if top_up else False,
                "threshold": Decimal(top_up.threshold_microdollars if top_up else 20_000_000)
                / 1_000_000,
                "amount": (top_up.amount_cents if top_up else 10_000) // 100,
            }
        ),
        "ledger_kinds": HISTORY_KIND_CHOICES[1:],
        "history_filters": history["filters"],
    }
    template = "billing/billing_tab.html"
    if request.htmx and request.htmx.target == "billing-history":
        template = "billing/_history.html"
    with timezone.override(organization.time_zone):  # dates in the org's time zone
        return render(request, template, context)


def _usd(microdollar_amount: int) -> str:
    return str(Decimal(microdollar_amount) / Decimal(1_000_000))


def _csv_rows(access: OrgAccess, entries, changes):  # noqa: ANN001, ANN202
    """Ledger entries and subscription changes, merged newest first.

    Rows are produced while the response streams, after the view has returned, so the org's
    time zone is passed explicitly rather than activated for the thread. Ledger amounts are
    credits; a subscription change's amount is what was charged to the card at once.
    """
    tz = zoneinfo.ZoneInfo(access.organization.time_zone)
    yield ["date", "kind", "description", "amount_usd", "balance_after_usd", "reference"]
    ledger_rows = (
        (
            entry.created_at,
            [
                entry.kind,
                entry.description,
                _usd(entry.amount_microdollars),
                _usd(entry.balance_after_microdollars),
                str(entry.public_id),
            ],
        )
        for entry in entries.iterator()
    )
    change_rows = (
        (
            change.created_at,
            [
                "subscription",
                f"{change.get_kind_display()}: {change.detail} (charged to card)",
                str(Decimal(change.amount_cents) / 100),
                "",
                str(change.public_id),
            ],
        )
        for change in changes.iterator()
    )
    newest_first = heapq.merge(ledger_rows, change_rows, key=lambda row: row[0], reverse=True)
    for created_at, row in newest_first:
        yield [timezone.localtime(created_at, tz).isoformat(), *row]


class _Echo:
    def write(self, value: str) -> str:
        return value


@require_GET
@org_view(Capability.VIEW_BILLING)
def billing_history_csv(request: HttpRequest, access: OrgAccess) -> StreamingHttpResponse:
    _, history = _history_filters(request, access)
    export_record(
        actor=Actor.from_request(request),
        action="export.billing_history_csv",
        organization=access.organization,
        filters=request.GET.dict(),
    )
    writer = csv.writer(_Echo())
    response = StreamingHttpResponse(
        (writer.writerow(row) for row in _csv_rows(access, history["entries"], history["changes"])),
        content_type="text/csv; charset=utf-8",
    )
    name = f"{access.organization.slug}-credit-history-{timezone.now():%Y%m%d}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


# --- cards --------------------------------------------------------------------------------------


@require_GET
@org_view(Capability.MANAGE_BILLING)
def billing_card_new(request: HttpRequest, access: OrgAccess) -> HttpResponse:
    try:
        intent = services.card_setup_start(
            actor=Actor.from_request(request), organization=access.organization
        )
    except BillingError as error:
        messages.error(request, str(error))
        return redirect(_tab(access, "payment-methods"))
    return render(
        request,
        "billing/card_new.html",
        {
            "access": access,
            "org": access.organization,
            "active_tab": "billing",
            "client_secret": intent.client_secret,
            "stripe_js_url": settings.STRIPE_JS_URL,
            "publishable_key": settings.STRIPE_PUBLISHABLE_KEY,
        },
    )


@require_POST
@org_view(Capability.MANAGE_BILLING)
def billing_card_confirm(request: HttpRequest, access: OrgAccess) -> HttpResponse:
    form = CardConfirmForm(request.POST)
    if not form.is_valid():
        return HttpResponse("Missing or malformed setup intent.", status=400)
    try:
        method = services.card_add_from_setup_intent(
            actor=Actor.from_request(request),
            organization=access.organization,
            setup_intent_id=form.cleaned_data["setup_intent"],
        )
    except BillingError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"Card {method} added.")
    return redirect(_tab(access, "payment-methods"))


def _card_action(
    request: HttpRequest, access: OrgAccess, card_id: str, service, done: str
) -> HttpResponse:  # noqa: ANN001
    """Look the card up inside this organization (404 otherwise), call the service, report."""
    method = selectors.card_for(access.organization, card_id)
    if method is None:
        raise Http404("No such card.")
    try:
        service(actor=Actor.from_request(request), organization=access.organization, method=method)
    except BillingError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, done.format(card=method))
    return redirect(_tab(access, "payment-methods"))


@require_POST
@org_view(Capability.MANAGE_BILLING)
def billing_card_default(request: HttpRequest, access: OrgAccess, card_id: str) -> HttpResponse:
    return _card_action(
        request, access, card_id, services.card_make_default, "{card} is now the default card."
    )


@require_POST
@org_view(Capability.MANAGE_BILLING)
def billing_card_remove(request: HttpRequest, access: OrgAccess, card_id: str) -> HttpResponse:
    return _card_action(request, access, card_id, services.card_remove, "{card} removed.")


# --- credits ------------------------------------------------------------------------------------


@require_POST
@org_view(Capability.MANAGE_BILLING)
def billing_buy_credits(request: HttpRequest, access: OrgAccess) -> HttpResponse:
    form = BuyCreditsForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(form.non_field_errors()) or "Check the amount.")
        return redirect(_tab(access, "buy-credits"))
    try:
        outcome = services.credits_purchase(
            actor=Actor.from_request(request),
            organization=access.organization,
            amount_cents=form.cleaned_data["amount_cents"],
        )
    except BillingError as error:
        messages.error(request, str(error))
        return redirect(_tab(access, "buy-credits"))
    if outcome.status == PaymentStatus.REQUIRES_ACTION:
        return redirect(
            "billing_payment_authenticate",
            org_slug=access.organization.slug,
            payment_id=outcome.payment.public_id,
        )
    if outcome.status == PaymentStatus.FAILED:
        messages.error(request, f"The payment failed: {outcome.message}")
    else:
        messages.success(
            request,
            f"Payment of {cents(outcome.payment.amount_cents)} received. The credits appear "
            "as soon as Stripe confirms it (usually within seconds).",
        )
    return redirect(_tab(access, "payments"))


@require_GET
@org_view(Capability.MANAGE_BILLING)
def billing_payment_authenticate(
    request: HttpRequest, access: OrgAccess, payment_id: str
) -> HttpResponse:
    payment = selectors.payment_for(access.organization, payment_id)
    if payment is None or not payment.stripe_payment_intent_id:
        raise Http404("No such payment.")
    if payment.status != PaymentStatus.REQUIRES_ACTION:
        return redirect(_tab(access, "payments"))
    try:
        intent = stripe_gateway.payment_intent_retrieve(payment.stripe_payment_intent_id)
    except stripe_gateway.GatewayError as error:
        messages.error(request, error.message)
        return redirect(_tab(access, "payments"))
    return render(
        request,
        "billing/payment_authenticate.html",
        {
            "access": access,
            "org": access.organization,
            "active_tab": "billing",
            "payment": payment,
            "client_secret": intent.client_secret,
            "stripe_js_url": settings.STRIPE_JS_URL,
            "publishable_key": settings.STRIPE_PUBLISHABLE_KEY,
        },
    )


@require_POST
@org_view(Capability.MANAGE_BILLING)
def billing_promotion_redeem(request: HttpRequest, access: OrgAccess) -> HttpResponse:
    form = PromotionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Enter a promotion code.")
        return redirect(_tab(access, "buy-credits"))
    try:
        redemption = services.promotion_redeem(
            actor=Actor.from_request(request),
            organization=access.organization,
            code=form.cleaned_data["code"],
        )
    except BillingError as error:
        messages.error(request, str(error))
    else:
        amount = microdollars(redemption.promotion.amount_microdollars)
        messages.success(request, f"Code {redemption.promotion.code} applied: {amount} in credits.")
    return redirect(_tab(access, "buy-credits"))


# --- settings -----------------------------------------------------------------------------------


@require_POST
@org_view(Capability.MANAGE_BILLING)
def billing_alert_update(request: HttpRequest, access: OrgAccess) -> HttpResponse:
    form = LowBalanceAlertForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(e for errs in form.errors.values() for e in errs))
        return redirect(_tab(access, "alerts"))
    services.low_balance_alert_update(
        actor=Actor.from_request(request),
        organization=access.organization,
        enabled=form.cleaned_data["enabled"],
        threshold_microdollars=dollars_to_microdollars(form.cleaned_data["threshold"]),
        recipients=form.cleaned_data["recipients"],
    )
    messages.success(request, "Low-balance alert saved.")
    return redirect(_tab(access, "alerts"))


@require_POST
@org_view(Capability.MANAGE_BILLING)
def billing_auto_top_up_update(request: HttpRequest, access: OrgAccess) -> HttpResponse:
    form = AutoTopUpForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(e for errs in form.errors.values() for e in errs))
        return redirect(_tab(access, "alerts"))
    try:
        services.auto_top_up_update(
            actor=Actor.from_request(request),
            organization=access.organization,
            enabled=form.cleaned_data["enabled"],
            threshold_microdollars=dollars_to_microdollars(form.cleaned_data["threshold"]),
            amount_cents=dollars_to_cents(form.cleaned_data["amount"]),
        )
    except BillingError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, "Auto top-up saved.")
    return redirect(_tab(access, "alerts"))


@require_http_methods(["GET", "POST"])
@org_view(Capability.MANAGE_BILLING)
def billing_details(request: HttpRequest, access: OrgAccess) -> HttpResponse:
    customer = selectors.customer_for(access.organization)
    initial = {"email": access.organization.billing_email, "name": access.organization.name}
    if customer:
        initial.update(
            {
                "email": customer.email or initial["email"],
                "name": customer.name or initial["name"],
                "tax_id": customer.tax_id,
                **{
                    key: getattr(customer, f"address_{key}")
                    for key in ("line1", "line2", "postal_code", "city", "state", "country")
                },
            }
        )
    form = BillingDetailsForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.billing_details_update(
                actor=Actor.from_request(request),
                organization=access.organization,
                email=form.cleaned_data["email"],
                name=form.cleaned_data["name"],
                address=form.address(),
                tax_id=form.cleaned_data["tax_id"],
            )
        except BillingError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, "Billing details saved.")
            return redirect(_tab(access, "details"))
    return render(
        request,
        "billing/details.html",
        {"access": access, "org": access.organization, "active_tab": "billing", "form": form},
        status=400 if form.errors else 200,
    )


@require_GET
@org_view(Capability.VIEW_BILLING)
def billing_document_download(
    request: HttpRequest, access: OrgAccess, document_id: str
) -> FileResponse:
    document = selectors.document_for(access.organization, document_id)
    if document is None or not document.file:
        raise Http404("No such document.")
    export_record(
        actor=Actor.from_request(request),
        action="document.downloaded",
        organization=access.organization,
        target=document,
        target_label=f"{document.get_kind_display()} {document.number}",
    )
    response = FileResponse(
        document.file.open("rb"),
        as_attachment=True,
        filename=f"{document.number}.pdf",
        content_type="application/pdf",
    )
    response["Cache-Control"] = "private, no-store"
    return response


# --- Stripe webhook (not org-scoped: Stripe signs it) ---------------------------------------------


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest) -> HttpResponse:
    """Verify, store, enqueue. 400 (nothing stored) for a bad signature or body; non-2xx when
    storing or handling failed, so that Stripe delivers the event again."""
    try:
        event = stripe_gateway.verify_webhook(
            request.body, request.headers.get("Stripe-Signature", "")
        )
    except stripe_gateway.InvalidWebhook:
        return HttpResponse("Invalid Stripe webhook.", status=400, content_type="text/plain")
    try:
        received = webhooks.event_receive(event)
    except DatabaseError:
        logger.exception("Could not store Stripe event %s", event.get("id"))
        return HttpResponse("Try again.", status=503, content_type="text/plain")
    except Exception:  # the handler ran eagerly (demo) and failed: Stripe must retry
        logger.exception("Stripe event %s could not be handled", event.get("id"))
        return HttpResponse("Handling failed; retry.", status=500, content_type="text/plain")
    return HttpResponse(received.value, status=200, content_type="text/plain")
