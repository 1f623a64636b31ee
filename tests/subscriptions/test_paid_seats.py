"""Seats only for a paid subscription: a declined or unauthenticated first payment grants
nothing, 3-D Secure at the start is offered, and an ended subscription returns the organization
to the free default (members above it keep access; invitations are refused, and the tab says so).
The renewal after a billing-frequency change is invoiced at the new price, nothing taken off."""

import re

import pytest
from django.urls import reverse
from pytest_django.asserts import assertContains

from billing import stripe_gateway as gateway
from billing import stripe_subscriptions
from organizations import invitations
from organizations.models import Membership, Role
from organizations.services import SeatLimitReached
from subscriptions import intents, renewal
from subscriptions.demo import plans_sync
from subscriptions.models import ChangeIntent, ChangeKind, IntentState, Status, Subscription
from tests.billing.conftest import DECLINED_ON_CHARGE, add_card, deliver, stripe_events
from tests.conftest import actor, client_for, make_user
from tests.subscriptions.conftest import in_stripe, subscribe
from tests.subscriptions.test_intents import _authenticate

pytestmark = pytest.mark.django_db(transaction=True)

FREE_SEATS = 5  # NEW_ORGANIZATION_SEATS in the test settings


def _fresh_org(org):  # noqa: ANN001, ANN202
    """The personas' org as a new one on the free default (the fixture gives it 10 seats)."""
    org.seat_count = FREE_SEATS
    org.save(update_fields=["seat_count"])
    return org


def test_a_declined_first_payment_starts_nothing_and_grants_no_seat(org, owner, admin, member):
    _fresh_org(org)
    plans_sync()
    add_card(org, owner, DECLINED_ON_CHARGE)

    with pytest.raises(intents.SubscriptionError, match="first payment failed"):
        intents.subscription_start(
            actor=actor(owner), organization=org, plan="teams", interval="month", seats=8
        )

    org.refresh_from_db()
    assert (org.seat_count, org.plan) == (FREE_SEATS, "teams")
    intent = ChangeIntent.objects.get(kind=ChangeKind.SUBSCRIBED)
    assert intent.state == IntentState.FAILED
    # Stripe's unpaid subscription was ended at once, and its events change nothing here.
    data = stripe_subscriptions.subscription_retrieve(intent.stripe_ref)
    assert data.status == Status.CANCELED
    for event in stripe_events(intent.stripe_ref):
        deliver(event)
    org.refresh_from_db()
    assert org.seat_count == FREE_SEATS
    assert not Subscription.objects.filter(organization=org).exclude(
        status__in=(Status.CANCELED, Status.INCOMPLETE_EXPIRED)
    )


def test_three_d_secure_at_the_start_is_offered_and_seats_come_only_once_paid(
    org, owner, admin, member
):
    _fresh_org(org)
    plans_sync()
    add_card(org, owner)
    from tests.subscriptions.test_intents import _three_d_secure_card

    _three_d_secure_card(org, owner)
    client = client_for(owner)
    response = client.post(
        reverse("subscriptions_start", args=[org.slug]),
        {"plan": "teams", "interval": "month", "seats": 8},
    )
    assert "/authenticate/" in response["Location"]
    page = client.get(response["Location"])
    assertContains(page, "/static/js/stripe-confirm-payment.js")  # calls confirmCardPayment
    assertContains(page, 'data-client-secret="pi_')
    assertContains(page, "The first payment for 8 seats of Kilo Teams")

    sub = Subscription.objects.get(organization=org)
    assert sub.status == Status.INCOMPLETE
    org.refresh_from_db()
    assert org.seat_count == FREE_SEATS  # "Awaiting payment" grants nothing
    for event in stripe_events(sub.stripe_id):
        deliver(event)  # the subscription's own events (incomplete) grant nothing either
    org.refresh_from_db()
    assert org.seat_count == FREE_SEATS
    for n in range(2):  # 2 invitations fill the free 5 seats (3 members), not the 8 unpaid ones
        invitations.invitation_create(
            actor=actor(owner), organization=org, email=f"n{n}@example.com", role=Role.MEMBER
        )
    with pytest.raises(SeatLimitReached):
        invitations.invitation_create(
            actor=actor(owner), organization=org, email="n9@example.com", role=Role.MEMBER
        )

    pending = page.context["pending"]
    _authenticate(pending.payment_intent_id)
    client.post(reverse("subscriptions_authenticate_complete", args=[org.slug, pending.public_id]))

    sub.refresh_from_db()
    org.refresh_from_db()
    assert (sub.status, sub.quantity) == (Status.ACTIVE, 8)
    assert (org.seat_count, org.plan) == (8, "teams")
    (started,) = sub.changes.filter(kind=ChangeKind.SUBSCRIBED)
    assert (started.to_quantity, started.amount_cents, started.actor) == (8, 8 * 15_00, owner)


def test_an_ended_subscription_returns_to_the_free_default_and_blocks_invitations(
    org, owner, admin, member
):
    sub = subscribe(org, owner, seats=10)
    for n in range(4):  # 7 members in all
        Membership.objects.create(
            organization=org, user=make_user(f"m{n}@acme.test"), role=Role.MEMBER
        )
    stripe_subscriptions.subscription_cancel_now(sub.stripe_id)
    (deleted,) = stripe_events(sub.stripe_id, "customer.subscription.deleted")
    deliver(deleted)

    org.refresh_from_db()
    assert (org.seat_count, org.plan) == (FREE_SEATS, "teams")
    assert Membership.objects.filter(organization=org).count() == 7  # everyone keeps access
    with pytest.raises(SeatLimitReached, match="7 seats are in use .* the plan has 5"):
        invitations.invitation_create(
            actor=actor(owner), organization=org, email="late@example.com", role=Role.MEMBER
        )
    page = client_for(owner).get(reverse("organization_tab", args=[org.slug]))
    text = re.sub(r"\s+", " ", page.content.decode())
    assert "2 over the limit of 5 seats: everyone keeps access" in text
    assert "Invitations are blocked: 7 seats in use for a limit of 5." in text
    assert client_for(member).get(reverse("organization_tab", args=[org.slug])).status_code == 200


def test_the_yearly_renewal_after_a_frequency_change_bills_the_full_yearly_price(
    org, owner, admin, member
):
    sub = subscribe(org, owner, seats=3)
    renewal.interval_change_at_renewal(actor=actor(owner), organization=org, interval="year")

    assert renewal.scheduled_changes_apply(sub.pk, now=sub.current_period_end)

    data = in_stripe(sub)
    assert data.plan_id == "kilo-teams-year-18000"
    invoice = gateway.invoice_retrieve(data.latest_invoice)
    # 3 seats x $15 x 12 = $540.00, with nothing taken off for the month already paid (the
    # change is made at the renewal, without proration).
    assert (invoice.amount_due, invoice.amount_paid) == (540_00, 540_00)
