"""Buying credits and removing a card ask first, stating the amount or the card."""

import re

import pytest
from django.urls import reverse
from pytest_django.asserts import assertContains

from billing.models import Payment, PaymentMethod
from tests.billing.conftest import add_card
from tests.conftest import client_for

pytestmark = pytest.mark.django_db(transaction=True)


def _hidden_fields(html: str) -> dict:
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', html))


def test_buying_the_1000_dollar_preset_first_shows_the_amount_and_card(org, owner):
    add_card(org, owner)
    client = client_for(owner)
    url = reverse("billing_buy_credits", args=[org.slug])

    review = client.post(url, {"preset": "100000"})

    assert review.status_code == 200
    assertContains(review, "Buy $1,000.00 of credits?")
    assertContains(review, "Visa ···· 4242")
    assertContains(review, "Pay $1,000.00")
    assert not Payment.objects.exists()  # nothing charged yet

    client.post(url, _hidden_fields(review.content.decode()))  # the Pay button
    assert list(Payment.objects.values_list("amount_cents", flat=True)) == [1_000_00]


def test_a_typed_amount_is_confirmed_to_the_cent(org, owner):
    add_card(org, owner)
    client = client_for(owner)
    url = reverse("billing_buy_credits", args=[org.slug])
    review = client.post(url, {"preset": "custom", "custom_amount": "250.75"})
    assertContains(review, "Buy $250.75 of credits?")
    fields = _hidden_fields(review.content.decode())
    assert (fields["custom_amount"], fields["confirm_cents"]) == ("250.75", "25075")
    client.post(url, fields)
    assert Payment.objects.get().amount_cents == 250_75


def test_a_confirmation_for_another_amount_charges_nothing(org, owner):
    add_card(org, owner)
    response = client_for(owner).post(
        reverse("billing_buy_credits", args=[org.slug]),
        {"preset": "custom", "custom_amount": "500", "confirm_cents": "10000"},
    )
    assertContains(response, "The amount differs from the one you confirmed.")
    assertContains(response, "Buy $500.00 of credits?")
    assert not Payment.objects.exists()


def test_removing_a_card_asks_first_naming_the_card(org, owner):
    first = add_card(org, owner)
    second = add_card(org, owner, "5555555555554444")
    client = client_for(owner)
    url = reverse("billing_card_remove", args=[org.slug, first.public_id])
    tab = client.get(reverse("billing_tab", args=[org.slug])).content.decode()
    assert f'href="{url}"' in tab and f'action="{url}"' not in tab

    page = client.get(url)

    assertContains(page, "Remove Visa ···· 4242?")
    assertContains(page, "···· 4444 becomes the default card")
    assert PaymentMethod.objects.get(pk=first.pk).detached_at is None
    client.post(url)
    assert PaymentMethod.objects.get(pk=first.pk).detached_at is not None
    assert PaymentMethod.objects.get(pk=second.pk).is_default


def test_removing_the_only_card_warns_about_auto_top_up(org, owner):
    card = add_card(org, owner)
    client = client_for(owner)
    client.post(
        reverse("billing_auto_top_up", args=[org.slug]),
        {"enabled": "on", "threshold": "20", "amount": "50"},
    )
    page = client.get(reverse("billing_card_remove", args=[org.slug, card.public_id]))
    assertContains(page, "This is the only card on file.")
    assertContains(page, "auto top-up ($50.00 when the balance falls below $20.00) will fail")
