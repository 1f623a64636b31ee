"""Keep the local subscription in line with Stripe's: webhooks and the daily reconcile.

Every entry point re-fetches the subscription from Stripe (events arrive late, twice or out of
order; the object's current state is the truth) and is idempotent: running it again with nothing
changed in Stripe changes nothing here.
"""

import logging
import uuid

from django.db import transaction
from django.utils import timezone

from audit.services import Actor
from billing import stripe_gateway as gateway
from billing import stripe_subscriptions
from billing.models import StripeCustomer

from .models import (
    ENDED_STATUSES,
    OPEN_INTENT_STATES,
    ChangeIntent,
    ChangeKind,
    IntentState,
    Status,
    Subscription,
    SubscriptionChange,
)
from .plans import price_for_stripe_id
from .reversal import intent_reverse
from .services import mirror, organization_plan_sync, record_change, snapshot

logger = logging.getLogger(__name__)


def _organization_for(data: stripe_subscriptions.SubscriptionData):  # noqa: ANN202
    customer = (
        StripeCustomer.objects.select_related("organization")
        .filter(stripe_id=data.customer)
        .first()
    )
    return customer.organization if customer else None


def _kind_for(before: dict, sub: Subscription) -> str:
    if sub.has_ended and before.get("status") != sub.status:
        return ChangeKind.ENDED
    return ChangeKind.RECONCILED


def subscription_apply(
    data: stripe_subscriptions.SubscriptionData, *, source: str
) -> Subscription | None:
    """Mirror one Stripe subscription; record (and audit) what changed. None = not ours."""
    if price_for_stripe_id(data.plan_id) is None:
        return None  # not one of our seat plans
    with transaction.atomic():
        sub = Subscription.objects.select_for_update().filter(stripe_id=data.id).first()
        if sub is None:
            organization = _organization_for(data)
            if organization is None:
                return None
            sub = Subscription.objects.select_for_update().filter(organization=organization).first()
            if sub is not None and not sub.has_ended:
                # The organization runs another subscription: a late event of an older one, or
                # a second one made behind our back. Never replace a running one with it.
                logger.warning("Ignoring %s: %s already has %s", data.id, organization, sub)
                return None
            if data.status in (Status.CANCELED, Status.INCOMPLETE_EXPIRED):
                return sub  # an old, ended subscription: nothing to mirror
            sub = sub or Subscription(organization=organization)
            before = snapshot(sub) if sub.pk else {}
        else:
            before = snapshot(sub)
            if sub.has_ended and data.status not in (Status.CANCELED, Status.INCOMPLETE_EXPIRED):
                # Defensive: a deleted subscription never comes back to life here.
                return sub
        mirror(sub, data)
        if sub.has_ended:
            sub.scheduled_quantity, sub.scheduled_plan, sub.scheduled_interval = None, "", ""
        sub.save()
        after = snapshot(sub)
        if before != after:
            changed = {k: v for k, v in before.items() if after.get(k) != v}
            record_change(
                sub,
                actor=Actor.system(),
                kind=_kind_for(before, sub) if before else ChangeKind.SUBSCRIBED,
                before=changed or None,
                from_quantity=before.get("quantity"),
                to_quantity=sub.quantity,
                from_plan=before.get("plan", ""),
                to_plan=sub.plan,
                from_interval=before.get("interval", ""),
                to_interval=sub.interval,
                note=f"From Stripe ({source}): "
                + ", ".join(f"{k} {before.get(k)!s} → {after[k]!s}" for k in changed)
                if changed
                else f"Created in Stripe ({source})",
            )
        organization_plan_sync(sub)
    return sub


def subscription_sync(stripe_subscription_id: str, *, source: str = "webhook") -> None:
    """The handler of customer.subscription.created/updated/deleted: re-fetch, then mirror."""
    if stripe_subscription_id:
        subscription_apply(
            stripe_subscriptions.subscription_retrieve(stripe_subscription_id), source=source
        )


def invoice_paid(invoice_id: str) -> None:
    subscription_id = stripe_subscriptions.invoice_subscription(invoice_id)
    if not subscription_id:
        return
    subscription_sync(subscription_id, source="invoice.paid")
    Subscription.objects.filter(stripe_id=subscription_id, status=Status.ACTIVE).update(
        last_payment_failed_at=None
    )


def invoice_payment_failed(invoice_id: str) -> None:
    subscription_id = stripe_subscriptions.invoice_subscription(invoice_id)
    if not subscription_id:
        return
    subscription_sync(subscription_id, source="invoice.payment_failed")
    if gateway.invoice_retrieve(invoice_id).status == "paid":
        return  # a retry has paid it since: no banner
    with transaction.atomic():
        sub = Subscription.objects.select_for_update().filter(stripe_id=subscription_id).first()
        if (
            sub is None
            or SubscriptionChange.objects.filter(
                request_key=f"invoice-failed-{invoice_id}"
            ).exists()
        ):
            return  # not ours, or this failure is recorded already (a redelivered event)
        sub.last_payment_failed_at = timezone.now()
        sub.save(update_fields=["last_payment_failed_at", "updated_at"])
        record_change(
            sub,
            actor=Actor.system(),
            kind=ChangeKind.PAYMENT_FAILED,
            stripe_ref=invoice_id,
            request_key=f"invoice-failed-{invoice_id}",
        )


def reconcile() -> list[str]:
    """Compare every subscription with Stripe and repair drift; returns what was repaired.

    Covers the subscriptions we know (changed or deleted behind our back) and subscriptions
    created in Stripe for one of our customers that we never heard of (a lost webhook).
    """
    repaired: list[str] = []
    for sub in Subscription.objects.select_related("organization"):
        if sub.has_ended and sub.synced_at and sub.ended_at:
            continue  # final in Stripe too
        before = snapshot(sub)
        try:
            data = stripe_subscriptions.subscription_retrieve(sub.stripe_id)
        except gateway.GatewayError:
            logger.exception("Reconcile: cannot fetch %s", sub.stripe_id)
            continue
        updated = subscription_apply(data, source="reconcile")
        if updated is not None and snapshot(updated) != before:
            repaired.append(f"{sub.organization.slug}: {before} -> {snapshot(updated)}")
    tracked = dict(
        Subscription.objects.exclude(status__in=ENDED_STATUSES).values_list(
            "organization_id", "stripe_id"
        )
    )
    for customer in StripeCustomer.objects.select_related("organization"):
        try:
            found = stripe_subscriptions.subscriptions_for_customer(customer.stripe_id)
        except gateway.GatewayError:
            logger.exception("Reconcile: cannot list subscriptions of %s", customer.stripe_id)
            continue
        repaired.extend(_untracked_sort_out(customer, found, tracked.get(customer.organization_id)))
    return repaired


def _untracked_sort_out(customer: StripeCustomer, found: list, tracked_id: str | None) -> list:
    """Every live subscription of the customer that the dashboard does not track: adopted when
    the organization has none (a lost webhook), canceled and refunded when one of our own
    starts made it and that start did not go through (its metadata names the intent), and
    logged at ERROR otherwise (made by hand in Stripe: an operator decides)."""
    repaired: list[str] = []
    slug = customer.organization.slug
    for data in found:
        if data.id == tracked_id or data.status in (Status.CANCELED, Status.INCOMPLETE_EXPIRED):
            continue
        intent = _ended_intent_that_made(customer.organization_id, data)
        if intent is not None:
            refunded = intent_reverse(intent, data)
            repaired.append(
                f"{slug}: canceled {data.id} of {intent.public_id}, refunded {refunded}"
            )
        elif tracked_id is None and subscription_apply(data, source="reconcile") is not None:
            repaired.append(f"{slug}: adopted {data.id}")
            tracked_id = data.id
        else:
            logger.error("Reconcile: %s runs %s, which the dashboard does not track", slug, data.id)
    return repaired


def _ended_intent_that_made(organization_id: int, data) -> ChangeIntent | None:  # noqa: ANN001
    """The start that made this subscription, if it failed or was reversed (never an open one:
    a request or the resume task may still be finishing it)."""
    try:
        key = uuid.UUID(data.metadata.get("change_intent") or "")
    except ValueError:
        return None  # not made by one of our starts
    return (
        ChangeIntent.objects.filter(
            organization_id=organization_id, public_id=key, kind=ChangeKind.SUBSCRIBED
        )
        .exclude(state__in=(*OPEN_INTENT_STATES, IntentState.APPLIED))
        .first()
    )


def scheduled_changes_due() -> list[int]:
    """Subscriptions whose scheduled change should now be sent to Stripe."""
    from .renewal import RENEWAL_LEAD

    return list(
        Subscription.objects.filter(
            current_period_end__lte=timezone.now() + RENEWAL_LEAD,
            status__in=(Status.ACTIVE, Status.TRIALING, Status.PAST_DUE),
            cancel_at_period_end=False,
        )
        .exclude(scheduled_quantity__isnull=True, scheduled_plan="", scheduled_interval="")
        .values_list("pk", flat=True)
    )
