"""Catch up with Stripe (the daily beat task): re-fetch every payment still unsettled locally and
every card mirror, and fix what differs. Missed webhooks are replayed by stripe_events.replay.
"""

import logging
from datetime import timedelta

from django.utils import timezone

from . import stripe_gateway as gateway
from . import sync
from .models import Payment, PaymentStatus, StripeCustomer

logger = logging.getLogger(__name__)


def unsettled_payments_sync(*, older_than: timedelta = timedelta(minutes=10)) -> int:
    """Payments Stripe has surely decided by now, but whose event never reached us."""
    stale = Payment.objects.filter(
        status__in=(PaymentStatus.PROCESSING, PaymentStatus.REQUIRES_ACTION),
        stripe_payment_intent_id__isnull=False,
        created_at__lt=timezone.now() - older_than,
    )
    fixed = 0
    for payment in stale.iterator():
        try:
            synced = sync.payment_intent_sync(payment.stripe_payment_intent_id)
        except gateway.GatewayError:
            logger.warning("Could not re-fetch %s", payment.stripe_payment_intent_id)
            continue
        if synced and synced.status != payment.status:
            fixed += 1
    return fixed


def cards_sync() -> int:
    count = 0
    for customer in StripeCustomer.objects.select_related("organization").iterator():
        try:
            for card in gateway.payment_methods_list(customer.stripe_id):
                sync.payment_method_sync(card.id, customer=customer)
                count += 1
            sync.customer_sync(customer.stripe_id)
        except gateway.GatewayError:
            logger.warning("Could not reconcile the cards of %s", customer.stripe_id)
    return count


def reconcile() -> dict:
    return {
        "payments_fixed": unsettled_payments_sync(),
        "cards": cards_sync(),
    }
