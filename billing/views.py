"""Billing tab and its actions. Thin: parse input, call one service, respond."""

import heapq
import logging
import zoneinfo

from django.conf import settings
from django.contrib import messages
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from audit.services import Actor, export_record
from kilo_dashboard import money
from kilo_dashboard.csv_export import csv_lines
from kilo_dashboard.request_keys import RequestKeyError, request_key_check, request_key_issue
from organizations.access import OrgAccess, org_view
from organizations.permissions import Capability
from subscriptions.selectors import history_changes

from . import selectors, services, stripe_gateway
from .forms import (
    HISTORY_KIND_CHOICES,
    AutoTopUpForm,
    BillingDetailsForm,
    BuyCreditsForm,
    CardConfirmForm,
    HistoryFilterForm,
    LowBalanceAlertForm,
    PromotionForm,
)
from .models import PaymentStatus
from .seat_charges import seat_charges_for
from .services import BillingError

logger = logging.getLogger(__name__)

# What each request key is for (kilo_dashboard.request_keys binds a key to one of them).
BUY_CREDITS = "billing.buy_credits"
AUTO_TOP_UP_SETTINGS = "billing.auto_top_up_settings"


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
    for payment in data["payments"]:
        payment.settling = selectors.payment_settling(payment)
    context = {
        **data,
        "access": access,
        "org": organization,
        "active_tab": "billing",
        "can_manage": access.can(Capability.MANAGE_BILLING),
        "default_card": next((c for c in data["cards"] if c.is_default), None),
        "history_form": history_form,
        "seat_charges": seat_charges_for(organization),
        "history_page": selectors.history_page(history["entries"], history["page"]),
        "history_query": request.GET.urlencode(),
        "buy_form": BuyCreditsForm(initial={"preset": "10000"}),
        "promo_form": PromotionForm(),
        "alert_form": LowBalanceAlertForm(
            initial={
                "enabled": alert.enabled if alert else False,
                "threshold": money.microdollars_field(
                    alert.threshold_microdollars if alert else 50_000_000
                ),
                "recipients": ", ".join(alert.recipients) if alert else "",
            }
        ),
        "top_up_form": AutoTopUpForm(
            initial={
                "enabled": top_up.enabled if top_up else False,
                "threshold": money.microdollars_field(
                    top_up.threshold_microdollars if top_up else 20_000_000
                ),
                "amount": money.cents_field(top_up.amount_cents if top_up else 100_00),
            }
        ),
        # The top-up settings charge nothing when saved (the top-up itself is one per period),
        # so their key is bound to the form, not to an amount.
        "top_up_request_key": request_key_issue(
            request,
            organization_id=organization.pk,
            purpose=AUTO_TOP_UP_SETTINGS,
            amount_cents=None,
        ),
        "ledger_kinds": HISTORY_KIND_CHOICES[1:],
        "history_filters": history["filters"],
    }
    template = "billing/billing_tab.html"
    if request.htmx and request.htmx.target == "billing-history":
        template = "billing/_history.html"
    with timezone.override(organization.time_zone):  # dates in the org's time zone
        return render(request, template, context)


def _change_description(change) -> str:  # noqa: ANN001
    """As the purchase history table shows it: kind, what changed, and a card charge if any
    ("Cancellation withdrawn", "Seats added: 5 → 6 seats (charged to card)")."""
    text = change.get_kind_display()
    if change.detail:
        text = f"{text}: {change.detail}"
    if change.amount_cents:
        text = f"{text} (charged to card)"
    return text


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
                money.microdollars_text(entry.amount_microdollars),
                money.microdollars_text(entry.balance_after_microdollars),
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
                _change_description(change),
                money.cents_text(change.amount_cents),
                "",
                str(change.public_id),
            ],
        )
        for change in changes.iterator()
    )
    newest_first = heapq.merge(ledger_rows, change_rows, key=lambda row: row[0], reverse=True)
    for created_at, row in newest_first:
        yield [timezone.localtime(created_at, tz).isoformat(), *row]


@require_GET
@org_view(Capability.VIEW_BILLING)
def billing_history_csv(request: HttpRequest, access: OrgAccess) -> StreamingHttpResponse:
    form, history = _history_filters(request, access)
    if form.errors:  # never export other rows than the ones asked for
        return HttpResponse(
            " ".join(form.error_messages_text()),
            status=400,
            content_type="text/plain; charset=utf-8",
        )
    export_record(
        actor=Actor.from_request(request),
        action="export.billing_history_csv",
        organization=access.organization,
        filters=request.GET.dict(),
    )
    response = StreamingHttpResponse(
        csv_lines(_csv_rows(access, history["entries"], history["changes"])),
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


@require_http_methods(["GET", "POST"])
@org_view(Capability.MANAGE_BILLING)
def billing_card_remove(request: HttpRequest, access: OrgAccess, card_id: str) -> HttpResponse:
    """GET asks "Remove Visa ···· 4242?"; the POST from that page removes it."""
    if request.method == "POST":
        return _card_action(request, access, card_id, services.card_remove, "{card} removed.")
    method = selectors.card_for(access.organization, card_id)
    if method is None:
        raise Http404("No such card.")
    # The card that takes over as default: the newest other one, as services.card_remove picks.
    others = sorted(
        (c for c in selectors.cards(access.organization) if c.pk != method.pk),
        key=lambda c: c.created_at,
        reverse=True,
    )
    return render(
        request,
        "billing/card_remove.html",
        {
            "access": access,
            "org": access.organization,
            "active_tab": "billing",
            "card": method,
            "successor": others[0] if method.is_default and others else None,
            "last_card": not others,
            "top_up": selectors.auto_top_up(access.organization),
        },
    )


# --- credits ------------------------------------------------------------------------------------


@require_POST
@org_view(Capability.MANAGE_BILLING)
def billing_buy_credits(request: HttpRequest, access: OrgAccess) -> HttpResponse:
    form = BuyCreditsForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(form.non_field_errors()) or "Check the amount.")
        return redirect(_tab(access, "buy-credits"))
    amount_cents = form.cleaned_data["amount_cents"]
    if form.cleaned_data.get("confirm_cents") != amount_cents:
        # Nothing is charged until the person has seen the amount and the card and said yes.
        return _buy_confirmation(request, access, form)
    try:
        request_key = request_key_check(
            request,
            form.cleaned_data["request_key"],
            organization_id=access.organization.pk,
            purpose=BUY_CREDITS,
            amount_cents=amount_cents,
        )
        outcome = services.credits_purchase(
            actor=Actor.from_request(request),
            organization=access.organization,
            amount_cents=amount_cents,
            request_key=request_key,
        )
    except (BillingError, RequestKeyError) as error:
        messages.error(request, str(error))
        return redirect(_tab(access, "buy-credits"))
    if outcome.status == PaymentStatus.REQUIRES_ACTION:
        return redirect(
            "billing_payment_authenticate",
            org_slug=access.organization.slug,
            payment_id=outcome.payment.public_id,
        )
    amount = money.format_cents(outcome.payment.amount_cents)
    if outcome.replayed:
        messages.info(
            request,
            f"This confirmation was already submitted: the payment of {amount} is "
            f"{outcome.payment.get_status_display().lower()}. Nothing more was charged.",
        )
    elif outcome.status == PaymentStatus.FAILED:
        messages.error(request, f"The payment failed: {outcome.message}")
    else:
        messages.success(
            request,
            f"Payment of {amount} received. The credits appear as soon as Stripe confirms it "
            "(usually within seconds).",
        )
    return redirect(_tab(access, "payments"))


def _buy_confirmation(
    request: HttpRequest, access: OrgAccess, form: BuyCreditsForm
) -> HttpResponse:
    card = services.default_card(access.organization)
    if card is None:
        messages.error(request, "Add a card first: credits are charged to the default card.")
        return redirect(_tab(access, "payment-methods"))
    amount_cents = form.cleaned_data["amount_cents"]
    return render(
        request,
        "billing/buy_confirm.html",
        {
            "access": access,
            "org": access.organization,
            "active_tab": "billing",
            "amount_cents": amount_cents,
            "amount_field": money.cents_field(amount_cents),
            "request_key": request_key_issue(
                request,
                organization_id=access.organization.pk,
                purpose=BUY_CREDITS,
                amount_cents=amount_cents,
            ),
            "card": card,
            # A confirmation for another amount came in (e.g. edited in another tab): say so.
            "amount_changed": form.cleaned_data.get("confirm_cents") is not None,
        },
    )


@require_GET
@org_view(Capability.VIEW_BILLING)
def billing_payment_row(request: HttpRequest, access: OrgAccess, payment_id: str) -> HttpResponse:
    """One row of the Payment history, polled by the row itself while the payment settles."""
    payment = selectors.payment_for(access.organization, payment_id)
    if payment is None:
        raise Http404("No such payment.")
    payment.settling = selectors.payment_settling(payment)
    with timezone.override(access.organization.time_zone):
        response = render(
            request, "billing/_payment_row.html", {"payment": payment, "org": access.organization}
        )
    if not payment.settling:  # the last poll: let the summary (balance) refresh once
        response["HX-Trigger"] = "billing-payment-settled"
    return response


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
        amount = money.format_microdollars(redemption.promotion.amount_microdollars)
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
        threshold_microdollars=money.cents_to_microdollars(form.cleaned_data["threshold"]),
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
        # Optional (an API client or an old page may not send one), but checked when sent.
        request_key = form.cleaned_data["request_key"] and request_key_check(
            request,
            form.cleaned_data["request_key"],
            organization_id=access.organization.pk,
            purpose=AUTO_TOP_UP_SETTINGS,
            amount_cents=None,
        )
        services.auto_top_up_update(
            actor=Actor.from_request(request),
            organization=access.organization,
            enabled=form.cleaned_data["enabled"],
            threshold_microdollars=money.cents_to_microdollars(form.cleaned_data["threshold"]),
            amount_cents=form.cleaned_data["amount"],
            request_key=request_key,
        )
    except (BillingError, RequestKeyError) as error:
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
