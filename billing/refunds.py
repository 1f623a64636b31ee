"""Refunds: money never moves on a hope.

1. `payment_refund` records the intent first: under a lock on the payment row it reads what is
   left to refund, reserves the amount (`Payment.refund_reserved_cents`, which a CHECK
   constraint keeps at or below the payment) and commits. A request key makes the call
   idempotent: a replay returns the first request's refund and reserves nothing.
2. Stripe is called outside any transaction, with an idempotency key derived from the intent
   and the intent's id in the refund's metadata.
3. Stripe's answer is applied: the ledger entry (once, keyed by Stripe's refund id) or, when
   Stripe refuses, the reservation is released.

A refund of credits never takes the balance below zero: at most the unspent part can be refunded
(`refundable_cents`: what is left of the payment, capped by the balance minus refunds already
reserved). Only staff may refund beyond it ("refund anyway"), and only with a written reason,
which is stored on the refund and audited; `verify_ledger` then names that refund as the cause
of the negative balance.

`refunds_finish_stale` (a beat task) completes intents a crash left between steps 1 and 3: it
first looks for the refund in Stripe by the intent id, so a retry never refunds twice.
`charge_refunds_sync` (charge.refunded) records refunds made in Stripe's own dashboard too.
"""

from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from audit.services import Actor, audit_record
from kilo_dashboard.money import cents_to_microdollars, microdollars_to_cents_down
from kilo_dashboard.money import format_cents as cents
from organizations.models import Organization

from . import stripe_gateway as gateway
from .balance import ledger_post
from .ledger import balance_of, lock_account
from .models import (
    LedgerKind,
    Payment,
    PaymentStatus,
    Refund,
    RefundState,
)

STALE_AFTER = timedelta(minutes=5)
FAILED_STATUSES = ("failed", "canceled")


class RefundError(Exception):
    """The refund was refused; the message is safe to show to the user."""


def payment_refund(
    *,
    actor: Actor,
    payment: Payment,
    amount_cents: int,
    request_key: str,
    beyond_balance_reason: str = "",
) -> Refund:
    """Refund `amount_cents` of a succeeded payment. Idempotent by `request_key`.

    At most the unspent part (`refundable_cents`); `beyond_balance_reason` (staff only) allows
    more, up to what is left of the payment, and is recorded.

    Returns the refund: SUCCEEDED (ledger entry written), RESERVED (Stripe has not settled it
    yet, or could not be reached: the webhook or the beat task finishes it). Raises RefundError
    when the amount is not refundable or Stripe refused (the reservation is then released).
    """
    if not request_key:
        raise ValueError("A refund request needs a request key (it makes replays harmless).")
    refund = _reserve(
        actor=actor,
        payment=payment,
        amount_cents=amount_cents,
        key=request_key,
        beyond_balance_reason=beyond_balance_reason.strip(),
    )
    if refund.state == RefundState.RESERVED:
        try:
            refund = refund_complete(refund.pk)
        except gateway.GatewayError as error:
            if not error.transient:
                raise
            return refund  # Stripe unreachable: the intent stays reserved, the task retries
    if refund.state == RefundState.RELEASED:
        raise RefundError(refund.failure_reason or "Stripe refused the refund.")
    return refund


def unspent_cents(organization: Organization, balance_microdollars: int | None = None) -> int:
    """The credit that can still be paid back, in whole cents: the balance minus the refunds
    reserved and not yet in the ledger. Exact under the account lock, where `_reserve` passes
    the locked balance; elsewhere it is what a page shows."""
    if balance_microdollars is None:
        balance_microdollars = balance_of(organization)
    pending = Refund.objects.filter(organization=organization, state=RefundState.RESERVED)
    pending_cents = pending.aggregate(total=Sum("amount_cents"))["total"] or 0
    return max(
        0, microdollars_to_cents_down(balance_microdollars - cents_to_microdollars(pending_cents))
    )


def refundable_cents(payment: Payment) -> int:
    """What a refund of `payment` may be without staff's "refund anyway": what is left of the
    payment, at most the organization's unspent credit."""
    remaining = payment.amount_cents - payment.refund_reserved_cents
    return max(0, min(remaining, unspent_cents(payment.organization)))


def _reserve(
    *,
    actor: Actor,
    payment: Payment,
    amount_cents: int,
    key: str,
    beyond_balance_reason: str = "",
) -> Refund:
    with transaction.atomic():
        locked = Payment.objects.select_for_update().get(pk=payment.pk)
        existing = Refund.objects.filter(request_key=key).first()
        if existing is not None:
            if existing.payment_id != locked.pk or existing.amount_cents != amount_cents:
                raise RefundError("This request key belongs to a different refund.")
            return existing  # a replay: the first request's refund, nothing reserved again
        if locked.status != PaymentStatus.SUCCEEDED or not locked.stripe_payment_intent_id:
            raise RefundError("Only a succeeded payment can be refunded.")
        remaining = locked.amount_cents - locked.refund_reserved_cents
        if not isinstance(amount_cents, int) or not 0 < amount_cents <= remaining:
            raise RefundError(
                f"The refund must be between $0.01 and {cents(remaining)}, "
                "what is left of the payment."
            )
        # Under the account lock (after the payment's, the order every ledger write keeps):
        # no purchase, usage debit or other refund moves the balance while this one is weighed.
        balance = lock_account(locked.organization).balance_microdollars
        unspent = unspent_cents(locked.organization, balance)
        beyond = amount_cents > unspent
        if beyond:
            _may_refund_beyond(actor, beyond_balance_reason, min(remaining, unspent))
        try:
            with transaction.atomic():
                refund = Refund.objects.create(
                    organization=locked.organization,
                    payment=locked,
                    request_key=key,
                    amount_cents=amount_cents,
                    requested_by=actor.user,
                    beyond_balance_reason=beyond_balance_reason[:500] if beyond else "",
                )
        except IntegrityError:
            raise RefundError("This request key belongs to a different refund.") from None
        before = locked.refund_reserved_cents
        locked.refund_reserved_cents += amount_cents
        locked.save(update_fields=["refund_reserved_cents", "updated_at"])
        audit_record(
            actor=actor,
            action="billing.refund_requested",
            organization=locked.organization,
            target=refund,
            target_label=f"Refund of {cents(amount_cents)}",
            before={"refund_reserved_cents": before},
            after={"refund_reserved_cents": locked.refund_reserved_cents},
        )
        if beyond:
            audit_record(
                actor=actor,
                action="billing.refund_beyond_balance",
                organization=locked.organization,
                target=refund,
                target_label=f"Refund of {cents(amount_cents)}, {cents(unspent)} unspent",
                before={"balance_microdollars": balance, "unspent_cents": unspent},
                after={
                    "refund_cents": amount_cents,
                    "balance_after_microdollars": balance - cents_to_microdollars(amount_cents),
                    "reason": refund.beyond_balance_reason,
                },
            )
    return refund


def _may_refund_beyond(actor: Actor, reason: str, limit_cents: int) -> None:
    """Refunding credit already spent: staff only, and only with a reason."""
    staff = actor.user is not None and actor.user.is_staff
    if staff and reason:
        return
    message = (
        f"At most {cents(limit_cents)} of this payment can be refunded: that is the credit "
        "left unspent (the rest has been used)."
    )
    if staff:
        message += " To refund more anyway, write why (it is recorded in the audit log)."
    raise RefundError(message)


def refund_complete(refund_id: int, *, look_up_first: bool = False) -> Refund:
    """Step 2 and 3 for one reserved refund: Stripe (outside any transaction), then apply.

    `look_up_first`: the intent may have reached Stripe already (a crash after the call), so
    look for its refund before creating one.
    """
    refund = Refund.objects.select_related("payment").get(pk=refund_id)
    if refund.state != RefundState.RESERVED:
        return refund
    data = None
    if look_up_first:
        found = gateway.refunds_for_payment_intent(refund.payment.stripe_payment_intent_id)
        data = next((d for d, ref in found if ref == str(refund.public_id)), None)
    if data is None:
        try:
            data, _ = gateway.refund_create_for_intent(
                payment_intent_id=refund.payment.stripe_payment_intent_id,
                amount_cents=refund.amount_cents,
                intent_ref=str(refund.public_id),
                idempotency_key=refund.stripe_idempotency_key,
            )
        except gateway.GatewayError as error:
            if error.transient:
                raise
            return refund_release(refund.pk, reason=error.message)
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=refund.payment_id)
        refund = Refund.objects.select_for_update().get(pk=refund_id)
        _apply(payment, refund, data)
    return refund


def _apply(payment: Payment, refund: Refund, data: gateway.RefundData) -> None:
    """Inside a transaction holding the payment's lock: Stripe's word on one refund."""
    if refund.state != RefundState.RESERVED:
        return
    refund.stripe_id = data.id
    refund.status = data.status
    if data.status == "succeeded":
        _settle(payment, refund)
    elif data.status in FAILED_STATUSES:
        _release(payment, refund, reason=f"Stripe reported the refund as {data.status}.")
    else:  # pending: charge.refunded or the beat task settles it
        refund.save(update_fields=["stripe_id", "status"])


def _settle(payment: Payment, refund: Refund) -> None:
    refund.state = RefundState.SUCCEEDED
    refund.completed_at = timezone.now()
    refund.save(update_fields=["stripe_id", "status", "state", "completed_at"])
    payment.amount_refunded_cents += refund.amount_cents
    payment.save(update_fields=["amount_refunded_cents", "updated_at"])
    entry = ledger_post(
        organization=payment.organization,
        kind=LedgerKind.REFUND,
        amount_microdollars=-cents_to_microdollars(refund.amount_cents),
        idempotency_key=f"refund:{refund.stripe_id}",
        description=f"Refund of a {payment.get_purpose_display().lower()}",
        refund=refund,
        payment=payment,
        created_by=refund.requested_by,
    )
    if entry is not None:
        audit_record(
            actor=Actor.system(),
            action="billing.refund_recorded",
            organization=payment.organization,
            target=refund,
            target_label=f"Refund of {cents(refund.amount_cents)}",
            after={"stripe_id": refund.stripe_id, "amount_cents": refund.amount_cents},
        )


def _release(payment: Payment, refund: Refund, *, reason: str) -> None:
    refund.state = RefundState.RELEASED
    refund.failure_reason = reason[:500]
    refund.completed_at = timezone.now()
    refund.save(update_fields=["stripe_id", "status", "state", "failure_reason", "completed_at"])
    before = payment.refund_reserved_cents
    payment.refund_reserved_cents -= refund.amount_cents
    payment.save(update_fields=["refund_reserved_cents", "updated_at"])
    audit_record(
        actor=Actor.system(),
        action="billing.refund_released",
        organization=payment.organization,
        target=refund,
        target_label=f"Refund of {cents(refund.amount_cents)} not made",
        before={"refund_reserved_cents": before},
        after={"refund_reserved_cents": payment.refund_reserved_cents, "reason": reason},
    )


def refund_release(refund_id: int, *, reason: str) -> Refund:
    """Stripe refused the refund: give the reserved amount back to the payment."""
    with transaction.atomic():
        refund = Refund.objects.select_related("payment").get(pk=refund_id)
        payment = Payment.objects.select_for_update().get(pk=refund.payment_id)
        refund = Refund.objects.select_for_update().get(pk=refund_id)
        if refund.state == RefundState.RESERVED:
            _release(payment, refund, reason=reason)
    return refund


def charge_refunds_sync(charge_id: str) -> list[Refund]:
    """charge.refunded: Stripe's refunds of the charge, each settled (or released) once.

    Matches our intents by Stripe id or by the intent id in the refund's metadata; a refund
    made in Stripe's dashboard becomes a new refund of the payment (Stripe never lets refunds
    exceed the charge, and the payment's CHECK constraint holds it to the same rule).
    """
    charge = gateway.charge_retrieve(charge_id)
    payment = Payment.objects.filter(stripe_charge_id=charge.id).first()
    if payment is None and charge.payment_intent:
        payment = Payment.objects.filter(stripe_payment_intent_id=charge.payment_intent).first()
    if payment is None or not payment.stripe_payment_intent_id:
        return []
    found = gateway.refunds_for_payment_intent(payment.stripe_payment_intent_id)
    seen: list[Refund] = []
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment.pk)
        if payment.stripe_charge_id != charge.id:
            payment.stripe_charge_id = charge.id
            payment.save(update_fields=["stripe_charge_id", "updated_at"])
        for data, intent_ref in found:
            refund = _match(payment, data, intent_ref)
            if refund is None:
                continue
            _apply(payment, refund, data)
            seen.append(refund)
    return seen


def _match(payment: Payment, data: gateway.RefundData, intent_ref: str) -> Refund | None:
    refunds = Refund.objects.select_for_update().filter(payment=payment)
    refund = refunds.filter(stripe_id=data.id).first()
    if refund is None and intent_ref:
        refund = refunds.filter(public_id=intent_ref, stripe_id__isnull=True).first()
    if refund is not None or data.status != "succeeded":
        return refund
    # Made in Stripe's dashboard: reserve it now (Stripe's word is final), then settle it.
    refund = Refund.objects.create(
        organization=payment.organization, payment=payment, amount_cents=data.amount
    )
    payment.refund_reserved_cents += data.amount
    payment.save(update_fields=["refund_reserved_cents", "updated_at"])
    return refund


def refunds_finish_stale(older_than: timedelta = STALE_AFTER) -> dict[str, int]:
    """Complete or release every refund intent left reserved (a crash, Stripe unreachable)."""
    cutoff = timezone.now() - older_than
    stale = Refund.objects.filter(state=RefundState.RESERVED, created_at__lt=cutoff)
    outcome = {"succeeded": 0, "released": 0, "waiting": 0}
    for refund_id in stale.order_by("pk").values_list("pk", flat=True):
        try:
            refund = refund_complete(refund_id, look_up_first=True)
        except gateway.GatewayError:
            outcome["waiting"] += 1  # still unreachable: next run
            continue
        key = {RefundState.SUCCEEDED: "succeeded", RefundState.RELEASED: "released"}
        outcome[key.get(refund.state, "waiting")] += 1
    return outcome
