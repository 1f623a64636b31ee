"""Every billing write: customers, cards, purchases, promotions, alerts and auto top-up.

Stripe is called outside database transactions (a slow network call must not hold row locks);
each local change then runs in one transaction with its audit row, and side effects (emails,
PDF rendering, top-ups) are deferred to on_commit. Stripe-driven state changes (webhooks) live
in `sync.py`.
"""

import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.services import Actor, audit_record
from kilo_dashboard.jobs import enqueue
from kilo_dashboard.money import format_cents as cents
from organizations.models import Membership, Organization, Role

from . import stripe_gateway as gateway
from . import sync
from .balance import ledger_post, period_key
from .models import (
    AutoTopUp,
    LedgerKind,
    LowBalanceAlert,
    Payment,
    PaymentMethod,
    PaymentPurpose,
    PaymentStatus,
    PromotionCode,
    Redemption,
    StripeCustomer,
)

MIN_PURCHASE_CENTS = 10_00
MAX_PURCHASE_CENTS = 10_000_00
PRESET_PURCHASES_CENTS = (100_00, 500_00, 1_000_00)
DUPLICATE_WINDOW = timedelta(seconds=30)


class BillingError(Exception):
    """A rule or Stripe refused the change; the message is safe to show to the user."""


def _require_owner(actor: Actor, organization: Organization) -> None:
    if actor.user is None:
        return  # the system (tasks, webhooks, the demo) acts with full rights
    is_owner = Membership.objects.filter(
        organization=organization, user=actor.user, role=Role.OWNER
    ).exists()
    if not is_owner:
        raise PermissionDenied("Only owners manage billing.")


# --- customer ---------------------------------------------------------------------------------


def customer_ensure(organization: Organization) -> StripeCustomer:
    """The org's Stripe customer, created the first time it is needed."""
    existing = StripeCustomer.objects.filter(organization=organization).first()
    if existing:
        return existing
    with gateway.stripe_errors(BillingError):
        data = gateway.customer_create(
            name=organization.name,
            email=organization.billing_email,
            org_ref=organization.slug,
            idempotency_key=f"customer-create-{organization.pk}",
        )
    customer, _ = StripeCustomer.objects.get_or_create(
        organization=organization,
        defaults={"stripe_id": data.id, "email": data.email, "name": organization.name},
    )
    return customer


def billing_details_update(
    *, actor: Actor, organization: Organization, email: str, name: str, address: dict, tax_id: str
) -> StripeCustomer:
    _require_owner(actor, organization)
    customer = customer_ensure(organization)
    with gateway.stripe_errors(BillingError):
        gateway.customer_update(
            customer.stripe_id, email=email, name=name, address=address, tax_id=tax_id
        )
    fields = ("email", "name", "tax_id", *(f"address_{k}" for k in address))
    with transaction.atomic():
        customer = StripeCustomer.objects.select_for_update().get(pk=customer.pk)
        before = {f: getattr(customer, f) for f in fields}
        customer.email, customer.name, customer.tax_id = email, name, tax_id
        for key, value in address.items():
            setattr(customer, f"address_{key}", value)
        customer.save()
        Organization.objects.filter(pk=organization.pk).update(billing_email=email)
        audit_record(
            actor=actor,
            action="billing.details_updated",
            organization=organization,
            target=customer,
            target_label="Billing details",
            before=before,
            after={f: getattr(customer, f) for f in fields},
        )
    return customer


# --- cards ------------------------------------------------------------------------------------


def card_setup_start(*, actor: Actor, organization: Organization) -> gateway.SetupIntentData:
    """A SetupIntent for Stripe.js to confirm in the browser (the card never touches us)."""
    _require_owner(actor, organization)
    customer = customer_ensure(organization)
    with gateway.stripe_errors(BillingError):
        return gateway.setup_intent_create(
            customer_id=customer.stripe_id, idempotency_key=f"setup-{uuid.uuid4()}"
        )


def card_add_from_setup_intent(
    *, actor: Actor, organization: Organization, setup_intent_id: str
) -> PaymentMethod:
    """After Stripe.js confirmed the SetupIntent: check it is ours, attach and mirror the card."""
    _require_owner(actor, organization)
    customer = customer_ensure(organization)
    with gateway.stripe_errors(BillingError):
        intent = gateway.setup_intent_retrieve(setup_intent_id)
        if intent.customer != customer.stripe_id:
            raise BillingError("This card setup does not belong to this organization.")
        if intent.status != "succeeded" or not intent.payment_method:
            raise BillingError("The card was not confirmed; please try again.")
        card = gateway.payment_method_retrieve(intent.payment_method)
        if card.customer and card.customer != customer.stripe_id:
            raise BillingError("This card belongs to another customer.")
        if not card.customer:  # the current API attaches on confirmation, localstripe does not
            card = gateway.payment_method_attach(card.id, customer.stripe_id)
        make_default = not PaymentMethod.objects.filter(
            organization=organization, is_default=True, detached_at__isnull=True
        ).exists()
        if make_default:
            gateway.customer_set_default_payment_method(customer.stripe_id, card.id)
    with transaction.atomic():
        method = sync.mirror_card(organization, card)
        if make_default:
            _set_default_locally(organization, method)
        audit_record(
            actor=actor,
            action="billing.card_added",
            organization=organization,
            target=method,
            target_label=str(method),
            after={"brand": method.brand, "last4": method.last4, "default": make_default},
        )
    return method


def _set_default_locally(organization: Organization, method: PaymentMethod) -> None:
    PaymentMethod.objects.filter(organization=organization, is_default=True).exclude(
        pk=method.pk
    ).update(is_default=False)
    PaymentMethod.objects.filter(pk=method.pk).update(is_default=True)
    method.is_default = True


def card_make_default(*, actor: Actor, organization: Organization, method: PaymentMethod) -> None:
    _require_owner(actor, organization)
    customer = customer_ensure(organization)
    with gateway.stripe_errors(BillingError):
        gateway.customer_set_default_payment_method(customer.stripe_id, method.stripe_id)
    with transaction.atomic():
        _set_default_locally(organization, method)
        audit_record(
            actor=actor,
            action="billing.card_default_set",
            organization=organization,
            target=method,
            target_label=str(method),
        )


def card_remove(*, actor: Actor, organization: Organization, method: PaymentMethod) -> None:
    _require_owner(actor, organization)
    customer = customer_ensure(organization)
    successor = (
        PaymentMethod.objects.filter(organization=organization, detached_at__isnull=True)
        .exclude(pk=method.pk)
        .order_by("-created_at")
        .first()
    )
    with gateway.stripe_errors(BillingError):
        gateway.payment_method_detach(method.stripe_id)
        if method.is_default and successor:
            gateway.customer_set_default_payment_method(customer.stripe_id, successor.stripe_id)
    with transaction.atomic():
        was_default = method.is_default
        PaymentMethod.objects.filter(pk=method.pk).update(
            detached_at=timezone.now(), is_default=False
        )
        if was_default and successor:
            _set_default_locally(organization, successor)
        audit_record(
            actor=actor,
            action="billing.card_removed",
            organization=organization,
            target=method,
            target_label=str(method),
        )


def default_card(organization: Organization) -> PaymentMethod | None:
    return PaymentMethod.objects.filter(
        organization=organization, is_default=True, detached_at__isnull=True
    ).first()


# --- buying credits -----------------------------------------------------------------------------


@dataclass(frozen=True)
class PurchaseOutcome:
    payment: Payment
    status: str
    client_secret: str = ""
    message: str = ""
    # The request key had been used: this is the first request's payment; nothing was charged.
    replayed: bool = False


def _payment_status(stripe_status: str, *, failed: bool) -> str:
    if failed:
        return PaymentStatus.FAILED
    return {
        "succeeded": PaymentStatus.PROCESSING,  # credits follow Stripe's webhook, not this answer
        "processing": PaymentStatus.PROCESSING,
        "requires_action": PaymentStatus.REQUIRES_ACTION,
        "requires_capture": PaymentStatus.PROCESSING,
        "canceled": PaymentStatus.CANCELED,
        "requires_payment_method": PaymentStatus.FAILED,
    }.get(stripe_status, PaymentStatus.CREATED)


def credits_purchase(
    *,
    actor: Actor,
    organization: Organization,
    amount_cents: int,
    purpose: str = PaymentPurpose.CREDIT_PURCHASE,
    request_key: str = "",
) -> PurchaseOutcome:
    """Charge the default card. Credits are granted only by payment_intent.succeeded.

    `request_key`: the confirmation's one-time key. A second request with the same key gets
    the first request's payment (`replayed`) and charges nothing, even after it settled."""
    _require_owner(actor, organization)
    if not isinstance(amount_cents, int) or not (
        MIN_PURCHASE_CENTS <= amount_cents <= MAX_PURCHASE_CENTS
    ):
        raise BillingError("Choose an amount between $10 and $10,000.")
    card = default_card(organization)
    if card is None:
        raise BillingError("Add a card first: credits are charged to the default card.")
    customer = customer_ensure(organization)
    off_session = purpose == PaymentPurpose.AUTO_TOP_UP
    with transaction.atomic():
        Organization.objects.select_for_update().filter(pk=organization.pk).first()
        earlier = Payment.objects.filter(request_key=request_key).first() if request_key else None
        if earlier is not None:
            return _replayed(earlier, organization=organization, amount_cents=amount_cents)
        # Two tabs (two keys) must not charge twice either: the same amount started moments ago
        # and not yet settled is refused.
        recent = Payment.objects.filter(
            organization=organization,
            amount_cents=amount_cents,
            purpose=purpose,
            status__in=(PaymentStatus.CREATED, PaymentStatus.PROCESSING),
            created_at__gte=timezone.now() - DUPLICATE_WINDOW,
        )
        if recent.exists():
            raise BillingError(
                "A payment of this amount is already in progress: check the payment history."
            )
        payment = Payment.objects.create(
            organization=organization,
            purpose=purpose,
            amount_cents=amount_cents,
            currency=settings.BILLING_CURRENCY,
            card_label=str(card),
            created_by=actor.user,
            request_key=request_key or None,
        )
        audit_record(
            actor=actor,
            action="billing.payment_started",
            organization=organization,
            target=payment,
            target_label=f"{payment.get_purpose_display()} of {cents(amount_cents)}",
            after={"amount_cents": amount_cents, "card": str(card)},
        )
    metadata = {
        "organization": organization.slug,
        "payment": str(payment.public_id),
        "purpose": purpose,
    }
    declined = ""
    try:
        intent = gateway.payment_intent_create(
            amount_cents=amount_cents,
            customer_id=customer.stripe_id,
            payment_method_id=card.stripe_id,
            metadata=metadata,
            idempotency_key=f"payment-{payment.public_id}",
            off_session=off_session,
        )
        Payment.objects.filter(pk=payment.pk).update(stripe_payment_intent_id=intent.id)
        if not off_session:
            intent = gateway.payment_intent_confirm(intent.id)
    except gateway.CardDeclined as error:
        declined = error.message
        intent = _retrieve_quietly(payment)
    except gateway.GatewayError as error:
        Payment.objects.filter(pk=payment.pk).update(
            status=PaymentStatus.FAILED, failure_message=error.message[:500]
        )
        raise BillingError(error.message) from error
    failed = bool(declined) or (intent is not None and intent.status == "requires_payment_method")
    message = declined or (intent.failure_message if intent else "") or ""
    status = _payment_status(intent.status if intent else "", failed=failed)
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment.pk)
        if payment.status != PaymentStatus.SUCCEEDED:  # the webhook may have been faster
            old_status = payment.status
            payment.status = status
            if failed:
                payment.failure_code = (intent.failure_code if intent else "") or "card_declined"
                payment.failure_message = (message or "Your card was declined.")[:500]
            payment.save()
            if payment.status not in (old_status, PaymentStatus.SUCCEEDED):
                sync.audit_payment_status(payment, old_status)
    return PurchaseOutcome(
        payment=payment,
        status=payment.status,
        client_secret=intent.client_secret if intent and status == "requires_action" else "",
        message=payment.failure_message,
    )


def _replayed(
    earlier: Payment, *, organization: Organization, amount_cents: int
) -> PurchaseOutcome:
    if earlier.organization_id != organization.pk or earlier.amount_cents != amount_cents:
        raise BillingError("This confirmation belongs to another payment. Nothing was charged.")
    return PurchaseOutcome(
        payment=earlier, status=earlier.status, message=earlier.failure_message, replayed=True
    )


def _retrieve_quietly(payment: Payment) -> gateway.PaymentIntentData | None:
    payment.refresh_from_db()
    if not payment.stripe_payment_intent_id:
        return None
    try:
        return gateway.payment_intent_retrieve(payment.stripe_payment_intent_id)
    except gateway.GatewayError:
        return None


# --- promotions ---------------------------------------------------------------------------------


def promotion_redeem(*, actor: Actor, organization: Organization, code: str) -> Redemption:
    _require_owner(actor, organization)
    normalized = code.strip().upper()
    with transaction.atomic():
        promotion = PromotionCode.objects.select_for_update().filter(code=normalized).first()
        if promotion is None or not promotion.active:
            raise BillingError("This promotion code is not valid.")
        if promotion.expires_at and promotion.expires_at <= timezone.now():
            raise BillingError("This promotion code has expired.")
        used = promotion.redemptions.count()
        if promotion.max_redemptions is not None and used >= promotion.max_redemptions:
            raise BillingError("This promotion code has been fully redeemed.")
        try:
            with transaction.atomic():
                redemption = Redemption.objects.create(
                    promotion=promotion, organization=organization, redeemed_by=actor.user
                )
        except IntegrityError:
            raise BillingError("Your organization has already redeemed this code.") from None
        ledger_post(
            organization=organization,
            kind=LedgerKind.PROMOTIONAL,
            amount_microdollars=promotion.amount_microdollars,
            idempotency_key=f"promotion:{promotion.pk}:org:{organization.pk}",
            description=f"Promotion code {promotion.code}",
            created_by=actor.user,
            redemption=redemption,
        )
        audit_record(
            actor=actor,
            action="billing.promotion_redeemed",
            organization=organization,
            target=redemption,
            target_label=promotion.code,
            after={"amount_microdollars": promotion.amount_microdollars},
        )
    return redemption


# --- low-balance alert and auto top-up --------------------------------------------------------


def low_balance_alert_update(
    *,
    actor: Actor,
    organization: Organization,
    enabled: bool,
    threshold_microdollars: int,
    recipients: list[str],
) -> LowBalanceAlert:
    _require_owner(actor, organization)
    from .ledger import balance_of

    with transaction.atomic():
        alert, _ = LowBalanceAlert.objects.select_for_update().get_or_create(
            organization=organization
        )
        before = {"enabled": alert.enabled, "threshold": alert.threshold_microdollars}
        alert.enabled = enabled
        alert.threshold_microdollars = threshold_microdollars
        alert.recipients = recipients
        # Already below the new threshold: that is not a crossing, so do not email now.
        alert.alerted = balance_of(organization) < threshold_microdollars
        alert.save()
        audit_record(
            actor=actor,
            action="billing.low_balance_alert_updated",
            organization=organization,
            target=alert,
            target_label="Low-balance alert",
            before=before,
            after={"enabled": enabled, "threshold": threshold_microdollars, "to": recipients},
        )
    return alert


def auto_top_up_update(
    *,
    actor: Actor,
    organization: Organization,
    enabled: bool,
    threshold_microdollars: int,
    amount_cents: int,
    request_key: str = "",
) -> AutoTopUp:
    """Save the settings. The same form submitted again (`request_key`) changes nothing."""
    _require_owner(actor, organization)
    if enabled and not (MIN_PURCHASE_CENTS <= amount_cents <= MAX_PURCHASE_CENTS):
        raise BillingError("The top-up amount must be between $10 and $10,000.")
    if enabled and default_card(organization) is None:
        raise BillingError("Add a card first: auto top-up charges the default card.")
    with transaction.atomic():
        top_up, _ = AutoTopUp.objects.select_for_update().get_or_create(organization=organization)
        if request_key and top_up.request_key == request_key:
            return top_up  # saved already by this very form
        before = {"enabled": top_up.enabled, "threshold": top_up.threshold_microdollars}
        top_up.enabled = enabled
        top_up.threshold_microdollars = threshold_microdollars
        top_up.amount_cents = amount_cents
        top_up.request_key = request_key or None
        if enabled:
            top_up.disabled_reason = ""
        top_up.save()
        audit_record(
            actor=actor,
            action="billing.auto_top_up_updated",
            organization=organization,
            target=top_up,
            target_label="Auto top-up",
            before=before,
            after={"enabled": enabled, "threshold": threshold_microdollars, "amount": amount_cents},
        )
    return top_up


def auto_top_up_run(organization_id: int) -> Payment | None:
    """Charge the configured amount, at most once per period; a failure turns it off."""
    from .ledger import balance_of

    organization = Organization.objects.get(pk=organization_id)
    period = period_key(organization)
    with transaction.atomic():  # claim this period first, so two workers cannot both charge
        top_up = AutoTopUp.objects.select_for_update().filter(organization=organization).first()
        if top_up is None or not top_up.enabled or top_up.last_charged_period == period:
            return None
        if balance_of(organization) >= top_up.threshold_microdollars:
            return None
        top_up.last_charged_period = period
        top_up.last_attempt_at = timezone.now()
        top_up.save(update_fields=["last_charged_period", "last_attempt_at"])
    reason = ""
    payment = None
    try:
        outcome = credits_purchase(
            actor=Actor.system(),
            organization=organization,
            amount_cents=top_up.amount_cents,
            purpose=PaymentPurpose.AUTO_TOP_UP,
            # One per period, by the claim above and by the payment's unique key.
            request_key=f"auto-top-up-{organization.pk}-{period}",
        )
        payment = outcome.payment
        if outcome.status in (PaymentStatus.FAILED, PaymentStatus.CANCELED):
            reason = outcome.message or "The card was declined."
        elif outcome.status == PaymentStatus.REQUIRES_ACTION:
            reason = "The bank asked for authentication, which an automatic charge cannot give."
    except BillingError as error:
        reason = str(error)
    if reason:
        auto_top_up_disable(organization, reason=reason)
    return payment


def auto_top_up_disable(organization: Organization, *, reason: str) -> None:
    with transaction.atomic():
        AutoTopUp.objects.filter(organization=organization).update(
            enabled=False, disabled_reason=reason[:500]
        )
        audit_record(
            actor=Actor.system(),
            action="billing.auto_top_up_disabled",
            organization=organization,
            target_label="Auto top-up",
            after={"reason": reason},
        )
        transaction.on_commit(
            lambda: enqueue("billing.tasks.send_auto_top_up_failed_email", organization.pk)
        )
