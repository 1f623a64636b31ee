"""The Subscriptions tab as each role sees it, and its confirm-then-act flows."""

import re
from decimal import Decimal

import pytest
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from subscriptions.models import ChangeKind, SubscriptionChange
from tests.conftest import client_for
from tests.subscriptions.conftest import in_stripe, stripe_prorated, subscribe

pytestmark = pytest.mark.django_db(transaction=True)


def tab(org) -> str:  # noqa: ANN001
    return reverse("subscriptions_tab", args=[org.slug])


def test_owners_see_plan_cycle_next_charge_seats_history_and_every_action(
    org, owner, admin, member
):
    subscribe(org, owner, seats=10)
    response = client_for(owner).get(tab(org))
    assertContains(response, "Kilo Teams")
    assertContains(response, "Kilo Enterprise")  # side by side
    assertContains(response, "$15.00</strong> per seat per month")
    assertContains(response, "$150.00</strong> per seat per month")
    assertContains(response, "$150.00")  # next charge: 10 × $15
    assertContains(response, "3 of 10 used")
    assertContains(response, "Seat history")
    assertContains(response, "Upgrade to Enterprise")
    assertContains(response, reverse("subscriptions_cancel_confirm", args=[org.slug]))
    assertContains(response, "no refund for the remaining time")


def test_admins_add_seats_but_see_no_plan_or_cancel_controls(org, owner, admin, member):
    subscribe(org, owner, seats=10)
    response = client_for(admin).get(tab(org))
    assertContains(response, "Review cost")
    assertNotContains(response, reverse("subscriptions_cancel_confirm", args=[org.slug]))
    assertNotContains(response, reverse("subscriptions_seats_remove", args=[org.slug]))
    assertNotContains(response, "Upgrade to Enterprise")


def test_members_see_the_plan_summary_only(org, owner, admin, member):
    subscribe(org, owner, seats=10)
    response = client_for(member).get(tab(org))
    assertContains(response, "Kilo Teams")
    assertContains(response, "10 seats")
    assertNotContains(response, "Next charge")
    assertNotContains(response, "Seat history")
    assertNotContains(response, "Review cost")
    assertNotContains(response, "per seat per month ·")


def test_the_owner_previews_then_adds_seats_and_sees_the_history_row(org, owner, admin, member):
    sub = subscribe(org, owner, seats=10)
    client = client_for(owner)
    preview = client.get(reverse("subscriptions_seats_preview", args=[org.slug]), {"seats": 2})
    assert preview.status_code == 200
    page = preview.content.decode()
    amount = re.search(r'data-testid="prorated-amount">(\$[\d.,]+)<', page).group(1)
    fields = dict(re.findall(r'name="(\w+)" value="([^"]+)"', page))

    response = client.post(reverse("subscriptions_seats_add", args=[org.slug]), fields)

    assert response.status_code == 302
    data = in_stripe(sub)
    assert data.quantity == 12
    expected = stripe_prorated(
        old_total=10 * 15_00,
        new_total=12 * 15_00,
        period_start=data.current_period_start,
        period_end=data.current_period_end,
        at=int(fields["proration_date"]),
    )
    assert amount == f"${Decimal(expected) / 100:,.2f}"
    change = SubscriptionChange.objects.get(kind=ChangeKind.SEATS_ADDED)
    assert change.amount_cents == expected
    after = client.get(tab(org))
    assertContains(after, "12 seats")
    assertContains(after, "10 → 12 seats")
    assertContains(after, "owner@acme.test")


def test_cancelling_needs_the_typed_name_and_can_be_undone(org, owner, admin, member):
    sub = subscribe(org, owner, seats=10)
    client = client_for(owner)
    url = reverse("subscriptions_cancel", args=[org.slug])

    wrong = client.post(url, {"confirm_name": "Globex"}, follow=True)
    assertContains(wrong, "to confirm")
    assert in_stripe(sub).cancel_at_period_end is False

    client.post(url, {"confirm_name": "Acme Robotics"})
    assert in_stripe(sub).cancel_at_period_end is True
    assertContains(client.get(tab(org)), "Keep the subscription")

    client.post(reverse("subscriptions_cancel_undo", args=[org.slug]))
    assert in_stripe(sub).cancel_at_period_end is False


def test_the_billing_tab_lists_subscription_changes(org, owner, admin, member):
    subscribe(org, owner, seats=10)
    response = client_for(admin).get(reverse("billing_tab", args=[org.slug]))
    assertContains(response, "Subscription changes")
    assertContains(response, "Subscribed")


def test_the_organization_tab_links_manage_seats_for_owners_and_admins(org, owner, admin, member):
    url = reverse("organization_tab", args=[org.slug])
    for user in (owner, admin):
        assertContains(client_for(user).get(url), f'href="{tab(org)}#seats">Manage Seats')
    assertContains(client_for(member).get(url), 'aria-disabled="true">Manage Seats')


def test_without_a_subscription_owners_can_start_one(org, owner, admin, member):
    from subscriptions.demo import plans_sync
    from tests.billing.conftest import add_card

    plans_sync()
    add_card(org, owner)
    response = client_for(owner).get(tab(org))
    assertContains(response, "No subscription yet")
    client_for(owner).post(
        reverse("subscriptions_start", args=[org.slug]),
        {"plan": "enterprise", "interval": "year", "seats": 4},
    )
    org.refresh_from_db()
    assert (org.plan, org.seat_count) == ("enterprise", 4)


def test_a_card_that_needs_authentication_changes_nothing_until_the_bank_check_passes(
    org, owner, admin, member
):
    import requests
    from django.conf import settings

    from billing import services as billing_services
    from billing import stripe_gateway as gateway
    from tests.billing.conftest import NEEDS_3DS, stripe_js_confirm_setup
    from tests.conftest import actor

    sub = subscribe(org, owner, seats=10)
    intent = billing_services.card_setup_start(actor=actor(owner), organization=org)
    stripe_js_confirm_setup(intent.client_secret, NEEDS_3DS)
    requests.post(  # the fake Stripe.js: "Complete authentication" of the card set-up
        f"{settings.STRIPE_API_BASE}/v1/setup_intents/{intent.id}/confirm",
        json={"key": settings.STRIPE_PUBLISHABLE_KEY, "client_secret": intent.client_secret},
        timeout=10,
    )
    card = billing_services.card_add_from_setup_intent(
        actor=actor(owner), organization=org, setup_intent_id=intent.id
    )
    billing_services.card_make_default(actor=actor(owner), organization=org, method=card)

    client = client_for(admin)
    page = client.get(reverse("subscriptions_seats_preview", args=[org.slug]), {"seats": 3})
    fields = dict(re.findall(r'name="(\w+)" value="([^"]+)"', page.content.decode()))
    response = client.post(reverse("subscriptions_seats_add", args=[org.slug]), fields)

    assert "/authenticate/" in response["Location"]
    assert in_stripe(sub).quantity == 10  # nothing yet
    auth_page = client.get(response["Location"])
    assertContains(auth_page, "js/stripe-confirm-payment.js")
    secret = auth_page.context["client_secret"]
    pending = auth_page.context["pending"]
    # Resubmitting the confirmation meanwhile leads to the same bank check, not a second charge.
    again = client.post(reverse("subscriptions_seats_add", args=[org.slug]), fields)
    assert again["Location"] == response["Location"]

    requests.post(  # what localstripe's Stripe.js does when the card holder approves
        f"{settings.STRIPE_API_BASE}/v1/payment_intents/{pending.payment_intent_id}"
        "/_authenticate?success=true",
        json={"key": settings.STRIPE_PUBLISHABLE_KEY, "client_secret": secret},
        timeout=10,
    )
    complete = reverse("subscriptions_authenticate_complete", args=[org.slug, pending.public_id])
    client.post(complete)
    client.post(complete)  # twice: applied once

    data = in_stripe(sub)
    assert data.quantity == 13
    expected = stripe_prorated(
        old_total=10 * 15_00,
        new_total=13 * 15_00,
        period_start=data.current_period_start,
        period_end=data.current_period_end,
        at=int(fields["proration_date"]),
    )
    change = SubscriptionChange.objects.get(kind=ChangeKind.SEATS_ADDED)
    assert (change.from_quantity, change.to_quantity, change.amount_cents) == (10, 13, expected)
    assert gateway.payment_intent_retrieve(pending.payment_intent_id).amount == expected


def test_a_billing_frequency_change_shows_its_next_charge_before_it_is_confirmed(
    org, owner, admin, member
):
    sub = subscribe(org, owner, seats=11)
    client = client_for(owner)
    # The tab's form asks for a review; nothing is saved by choosing.
    assertContains(client.get(tab(org)), reverse("subscriptions_interval_preview", args=[org.slug]))

    page = client.get(
        reverse("subscriptions_interval_preview", args=[org.slug]), {"interval": "year"}
    )

    # 11 seats x $15 = $165.00 monthly now; 11 x $15 x 12 = $1,980.00 yearly after the change.
    text = re.sub(r"\s+", " ", page.content.decode())
    assert '11 × Kilo Teams, monthly</td><td class="num">$165.00' in text
    assert 'data-testid="next-charge"><strong>$1,980.00</strong>' in text
    assert "Nothing is charged now" in text
    sub.refresh_from_db()
    assert sub.scheduled_interval == ""  # a preview changes nothing

    client.post(reverse("subscriptions_interval", args=[org.slug]), {"interval": "year"})
    sub.refresh_from_db()
    assert sub.scheduled_interval == "year"
    assert in_stripe(sub).interval == "month"  # Stripe changes at the renewal only
    assertContains(client.get(tab(org)), "$1,980.00")
