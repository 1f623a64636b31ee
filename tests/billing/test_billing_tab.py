"""The Billing tab page, its history filters and CSV export, billing details."""

import csv
import io
import uuid

import pytest
from django.db import transaction
from django.urls import reverse

from billing.ledger import ledger_append
from billing.models import StripeCustomer
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def entries(org):  # noqa: ANN201
    with transaction.atomic():
        ledger_append(
            organization=org,
            kind="promotional",
            amount_microdollars=50_000_000,
            idempotency_key="p1",
            description="Promotion code WELCOME50",
        )
        ledger_append(
            organization=org,
            kind="usage",
            amount_microdollars=-1_234_567,
            idempotency_key="u1",
            description="Usage 10:00-11:00",
        )


def test_owner_sees_balance_and_every_section(org, owner, entries):
    response = client_for(owner).get(reverse("billing_tab", args=[org.slug]))
    html = response.content.decode()
    assert response.status_code == 200
    assert "$48.77" in html  # 50 - 1.234567, rounded for display
    for section in (
        "Buy credits",
        "Payment methods",
        "Payment history",
        "Purchase history",
        "Payment status by billing cycle",
        "Invoices, receipts and statements",
        "Low-balance alert and auto top-up",
        "Billing details",
    ):
        assert section in html
    assert 'name="custom_amount"' in html and "$1,000" in html


def test_admin_views_but_gets_no_forms(org, admin, entries):
    html = client_for(admin).get(reverse("billing_tab", args=[org.slug])).content.decode()
    assert "Only owners buy credits" in html
    assert 'name="custom_amount"' not in html
    assert reverse("billing_card_new", args=[org.slug]) not in html


def test_members_do_not_see_the_billing_tab_in_the_bar(org, member, owner):
    member_html = client_for(member).get(reverse("organization_tab", args=[org.slug])).content
    owner_html = client_for(owner).get(reverse("organization_tab", args=[org.slug])).content
    billing = reverse("billing_tab", args=[org.slug]).encode()
    assert billing not in member_html.split(b"<main")[0]
    assert billing in owner_html


def test_buy_credits_quick_action_links_owners_to_the_purchase_section(org, owner, admin):
    owner_html = client_for(owner).get(reverse("organization_tab", args=[org.slug])).content
    admin_html = client_for(admin).get(reverse("organization_tab", args=[org.slug])).content
    target = (reverse("billing_tab", args=[org.slug]) + "#buy-credits").encode()
    assert target in owner_html
    assert target not in admin_html and b"Only owners buy credits" in admin_html


def test_history_filters_by_kind_and_the_csv_exports_the_same_rows(org, owner, entries):
    client = client_for(owner)
    html = client.get(reverse("billing_tab", args=[org.slug]), {"kind": "usage"}).content.decode()
    assert "Usage 10:00-11:00" in html and "Promotion code WELCOME50" not in html
    response = client.get(reverse("billing_history_csv", args=[org.slug]), {"kind": "usage"})
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:4] == ["date", "kind", "description", "amount_usd"]
    assert [r[1:4] for r in rows[1:]] == [
        ["usage", "Usage 10:00-11:00", "-1.23"]
    ]  # rounded to cents


def test_history_filters_by_date(org, owner, entries):
    client = client_for(owner)
    html = client.get(
        reverse("billing_tab", args=[org.slug]),
        {"date_from": "2001-01-01", "date_to": "2001-01-31"},
    ).content.decode()
    assert "No credit activity matches these filters" in html


def test_the_tab_does_a_bounded_number_of_queries(
    org, owner, entries, django_assert_max_num_queries
):
    client = client_for(owner)
    with django_assert_max_num_queries(20):
        client.get(reverse("billing_tab", args=[org.slug]))


def test_owner_edits_billing_details_which_reach_stripe(org, owner):
    response = client_for(owner).post(
        reverse("billing_details", args=[org.slug]),
        {
            "email": "ap@acme.test",
            "name": "Acme Robotics GmbH",
            "line1": "Hauptstr. 1",
            "postal_code": "10115",
            "city": "Berlin",
            "country": "de",
            "tax_id": "DE123456789",
        },
    )
    assert response.status_code == 302
    customer = StripeCustomer.objects.get(organization=org)
    assert customer.email == "ap@acme.test" and customer.address_country == "DE"
    assert customer.tax_id == "DE123456789"
    org.refresh_from_db()
    assert org.billing_email == "ap@acme.test"
    from billing import stripe_gateway

    assert stripe_gateway.customer_retrieve(customer.stripe_id).email == "ap@acme.test"


@pytest.fixture
def subscription_change(org, owner):  # noqa: ANN201
    from datetime import UTC, datetime

    from subscriptions.models import Subscription, SubscriptionChange

    sub = Subscription.objects.create(
        organization=org,
        stripe_id="sub_h",
        plan="teams",
        interval="month",
        quantity=12,
        status="active",
    )
    at = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    return SubscriptionChange.objects.create(
        organization=org,
        subscription=sub,
        kind="seats_added",
        actor=owner,
        actor_email=owner.email,
        from_quantity=10,
        to_quantity=12,
        amount_cents=1_500,
        effective_at=at,
        created_at=at,
    )


def test_the_csv_merges_subscription_changes_with_ledger_entries(
    org, owner, entries, subscription_change
):
    client = client_for(owner)
    url = reverse("billing_history_csv", args=[org.slug])
    rows = list(csv.reader(io.StringIO(b"".join(client.get(url).streaming_content).decode())))
    kinds = [r[1] for r in rows[1:]]
    assert kinds.count("subscription") == 1 and "usage" in kinds and "promotional" in kinds
    dates = [r[0] for r in rows[1:]]
    assert dates == sorted(dates, reverse=True)  # one timeline, newest first
    [change] = [r for r in rows[1:] if r[1] == "subscription"]
    assert change[3] == "15.00" and change[5] == str(subscription_change.public_id)
    assert change[2] == "Seats added: 10 → 12 seats (charged to card)"

    only = client.get(url, {"kind": "subscription"})
    rows = list(csv.reader(io.StringIO(b"".join(only.streaming_content).decode())))
    assert [r[1] for r in rows[1:]] == ["subscription"]
    html = client.get(reverse("billing_tab", args=[org.slug]), {"kind": "usage"}).content.decode()
    assert "No subscription change matches these filters" in html


def test_subscription_changes_follow_the_date_filter(org, owner, subscription_change):
    client = client_for(owner)
    tab = reverse("billing_tab", args=[org.slug])
    inside = client.get(tab, {"date_from": "2026-11-20", "date_to": "2026-11-20"})
    outside = client.get(tab, {"date_from": "2026-11-21", "date_to": "2026-11-30"})
    assert "Seats added" in inside.content.decode()
    assert "No subscription change matches these filters" in outside.content.decode()
    assert "No subscription change matches these filters" not in inside.content.decode()


def test_csv_rows_of_changes_without_a_charge_say_so_plainly(org, owner, subscription_change):
    """Regression: a withdrawn cancellation read "Cancellation withdrawn:  (charged to card)"."""
    subscription_change.pk = None
    subscription_change.public_id = uuid.uuid4()
    subscription_change.kind = "cancel_undone"
    subscription_change.from_quantity = subscription_change.to_quantity = None
    subscription_change.amount_cents = 0
    subscription_change.save()
    url = reverse("billing_history_csv", args=[org.slug])
    body = b"".join(client_for(owner).get(url).streaming_content).decode()
    rows = list(csv.reader(io.StringIO(body)))
    withdrawn = [r for r in rows[1:] if r[5] == str(subscription_change.public_id)]
    assert [r[2:4] for r in withdrawn] == [["Cancellation withdrawn", "0.00"]]


def test_csv_amounts_are_rounded_to_cents(org, owner):
    with transaction.atomic():
        ledger_append(
            organization=org,
            kind="adjustment",
            amount_microdollars=1_596_999_237,
            idempotency_key="a1",
            description="Opening balance",
        )
    url = reverse("billing_history_csv", args=[org.slug])
    body = b"".join(client_for(owner).get(url).streaming_content).decode()
    [row] = list(csv.reader(io.StringIO(body)))[1:]
    assert row[3:5] == ["1597.00", "1597.00"]  # 1596.999237 rounded half up to the cent
