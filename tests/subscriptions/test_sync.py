"""Webhooks out of order and duplicated, concurrent seat additions, the daily reconcile."""

import threading
import uuid

import pytest
from django.db import connection
from django.urls import reverse

from audit.models import AuditEvent
from billing import services as billing_services
from billing import stripe_subscriptions
from billing.models import PaymentMethod
from stripe_events.models import StripeEvent
from subscriptions import intents, tasks
from subscriptions.models import ChangeKind, Status, Subscription, SubscriptionChange
from tests.billing.conftest import DECLINED_ON_CHARGE, add_card, deliver, fake_event, stripe_events
from tests.conftest import actor, client_for
from tests.subscriptions.conftest import in_stripe, stripe_post, subscribe

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_late_updated_after_deleted_never_brings_the_subscription_back(org, owner, admin, member):
    sub = subscribe(org, owner, seats=10)
    (created,) = stripe_events(sub.stripe_id, "customer.subscription.created")
    stripe_subscriptions.subscription_cancel_now(sub.stripe_id)
    (deleted,) = stripe_events(sub.stripe_id, "customer.subscription.deleted")

    assert deliver(deleted).status_code == 200
    assert deliver(fake_event("customer.subscription.updated", sub.stripe_id)).status_code == 200
    assert deliver(created).status_code == 200  # the oldest event, last
    assert deliver(deleted).content == b"duplicate"

    sub.refresh_from_db()
    assert sub.status == Status.CANCELED and sub.ended_at is not None
    assert SubscriptionChange.objects.filter(kind=ChangeKind.ENDED).count() == 1
    assert StripeEvent.objects.filter(stripe_id=deleted["id"]).count() == 1


def test_events_before_our_own_write_and_twice_leave_one_subscription(org, owner, admin, member):
    sub = subscribe(org, owner, seats=10)
    (created,) = stripe_events(sub.stripe_id, "customer.subscription.created")
    Subscription.objects.all().delete()  # as if the webhook had won the race with our write

    deliver(created)
    deliver(fake_event("customer.subscription.updated", sub.stripe_id, "evt_upd_1"))
    deliver(fake_event("customer.subscription.updated", sub.stripe_id, "evt_upd_1"))

    mirrored = Subscription.objects.get(organization=org)
    assert (mirrored.stripe_id, mirrored.quantity, mirrored.status) == (sub.stripe_id, 10, "active")
    assert SubscriptionChange.objects.filter(subscription=mirrored).count() == 1


def test_a_quantity_changed_in_stripe_arrives_by_webhook_and_moves_the_seat_limit(
    org, owner, admin, member
):
    sub = subscribe(org, owner, seats=10)
    stripe_subscriptions.subscription_change_at_renewal(
        in_stripe(sub), plan_id=in_stripe(sub).plan_id, quantity=14, idempotency_key="ext-14"
    )
    deliver(fake_event("customer.subscription.updated", sub.stripe_id, "evt_ext_14"))
    org.refresh_from_db()
    assert org.seat_count == 14
    change = SubscriptionChange.objects.get(kind=ChangeKind.RECONCILED)
    assert (change.from_quantity, change.to_quantity) == (10, 14)
    assert "webhook" in change.note


def test_a_failed_renewal_payment_shows_the_past_due_banner_to_owners_and_admins(
    org, owner, admin, member
):
    sub = subscribe(org, owner, seats=10)
    declining = add_card(org, owner, DECLINED_ON_CHARGE)
    billing_services.card_make_default(actor=actor(owner), organization=org, method=declining)
    # A billing-frequency change makes localstripe invoice at once: the renewal-like charge fails.
    stripe_subscriptions.subscription_change_at_renewal(
        in_stripe(sub),
        plan_id="kilo-teams-year-18000",
        quantity=10,
        idempotency_key=f"renew-{uuid.uuid4()}",
    )
    data = in_stripe(sub)
    assert data.status == "past_due"
    # localstripe marks the subscription past due but sends no invoice.payment_failed for it:
    # deliver the event Stripe would send (the handler re-fetches the invoice), twice.
    event = fake_event("invoice.payment_failed", data.latest_invoice)
    deliver(event)
    deliver(event)

    sub.refresh_from_db()
    assert sub.status == Status.PAST_DUE and sub.last_payment_failed_at is not None
    assert SubscriptionChange.objects.filter(kind=ChangeKind.PAYMENT_FAILED).count() == 1
    url = reverse("organization_tab", args=[org.slug])
    pages = {
        name: client_for(user).get(url).content.decode()
        for name, user in (("owner", owner), ("admin", admin), ("member", member))
    }
    assert "subscription payment failed" in pages["owner"]
    assert "Update the card" in pages["owner"]  # only owners may change the card
    assert "subscription payment failed" in pages["admin"]
    assert "Ask an owner to update the card" in pages["admin"]
    assert "Update the card" not in pages["admin"]
    assert "subscription payment failed" not in pages["member"]

    # The owner fixes the card; Stripe's retry pays the invoice; invoice.paid clears the banner.
    visa = PaymentMethod.objects.get(organization=org, last4="4242")
    billing_services.card_make_default(actor=actor(owner), organization=org, method=visa)
    stripe_post(f"/v1/invoices/{data.latest_invoice}/pay", {})
    deliver(fake_event("invoice.paid", data.latest_invoice))
    sub.refresh_from_db()
    assert sub.status == Status.ACTIVE and sub.last_payment_failed_at is None
    assert "subscription payment failed" not in client_for(owner).get(url).content.decode()


def test_two_admins_adding_seats_at_the_same_moment_end_with_both_additions(
    org, owner, admin, member
):
    sub = subscribe(org, owner, seats=10)
    barrier = threading.Barrier(2)
    errors: list[Exception] = []

    def add(user, seats: int, key: str) -> None:  # noqa: ANN001
        try:
            barrier.wait(timeout=10)
            intents.seats_add(actor=actor(user), organization=org, seats=seats, request_key=key)
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=add, args=(owner, 1, "owner-adds-1")),
        threading.Thread(target=add, args=(admin, 2, "admin-adds-2")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert not errors
    assert in_stripe(sub).quantity == 13
    sub.refresh_from_db()
    assert sub.quantity == 13
    org.refresh_from_db()
    assert org.seat_count == 13
    steps = sorted(
        SubscriptionChange.objects.filter(kind=ChangeKind.SEATS_ADDED).values_list(
            "from_quantity", "to_quantity"
        )
    )
    assert steps in ([(10, 11), (11, 13)], [(10, 12), (12, 13)])


def test_reconcile_repairs_drift_made_in_stripe_and_records_it(org, owner, admin, member):
    sub = subscribe(org, owner, seats=10)
    data = in_stripe(sub)
    stripe_subscriptions.subscription_change_at_renewal(
        data, plan_id=data.plan_id, quantity=15, idempotency_key=f"drift-{uuid.uuid4()}"
    )
    stripe_post(f"/v1/subscriptions/{sub.stripe_id}", {"cancel_at_period_end": "true"})

    assert tasks.reconcile_subscriptions() == 1

    sub.refresh_from_db()
    assert (sub.quantity, sub.cancel_at_period_end) == (15, True)
    org.refresh_from_db()
    assert org.seat_count == 15
    change = SubscriptionChange.objects.get(kind=ChangeKind.RECONCILED)
    assert "reconcile" in change.note and "quantity 10 → 15" in change.note
    event = AuditEvent.objects.get(action="subscription.reconciled")
    assert event.before == {"quantity": 10, "cancel_at_period_end": False}
    assert tasks.reconcile_subscriptions() == 0  # nothing left to repair


def test_reconcile_adopts_a_subscription_whose_webhooks_were_lost(org, owner, admin, member):
    sub = subscribe(org, owner, seats=10)
    Subscription.objects.all().delete()
    assert tasks.reconcile_subscriptions() == 1
    assert Subscription.objects.get(organization=org).stripe_id == sub.stripe_id
