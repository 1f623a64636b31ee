"""Promotion codes: created in admin, redeemed by owners, once per org, within limits."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from billing.ledger import balance_of
from billing.models import CreditLedgerEntry, PromotionCode, Redemption
from billing.services import BillingError, promotion_redeem
from tests.conftest import actor, client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def promo(db) -> PromotionCode:
    return PromotionCode.objects.create(code="welcome50", amount_microdollars=50_000_000)


def test_codes_are_stored_upper_case_and_matched_in_any_case(promo):
    assert promo.code == "WELCOME50"


def test_an_owner_redeems_a_code_once_and_gets_promotional_credits(org, owner, promo):
    response = client_for(owner).post(
        reverse("billing_promotion_redeem", args=[org.slug]), {"code": " Welcome50 "}, follow=True
    )
    assert "applied: $50.00 in credits" in response.content.decode()
    assert balance_of(org) == 50_000_000
    entry = CreditLedgerEntry.objects.get(organization=org)
    assert entry.kind == "promotional" and entry.redemption.promotion == promo
    with pytest.raises(BillingError, match="already redeemed"):
        promotion_redeem(actor=actor(owner), organization=org, code="WELCOME50")
    assert balance_of(org) == 50_000_000


def test_an_expired_code_is_refused(org, owner, promo):
    promo.expires_at = timezone.now() - timedelta(minutes=1)
    promo.save()
    with pytest.raises(BillingError, match="expired"):
        promotion_redeem(actor=actor(owner), organization=org, code="WELCOME50")


def test_an_unknown_or_inactive_code_is_refused(org, owner, promo):
    with pytest.raises(BillingError, match="not valid"):
        promotion_redeem(actor=actor(owner), organization=org, code="NOPE")
    promo.active = False
    promo.save()
    with pytest.raises(BillingError, match="not valid"):
        promotion_redeem(actor=actor(owner), organization=org, code="WELCOME50")


def test_the_redemption_limit_counts_organizations(org, owner, other_org, outsider, promo):
    promo.max_redemptions = 1
    promo.save()
    promotion_redeem(actor=actor(owner), organization=org, code="WELCOME50")
    with pytest.raises(BillingError, match="fully redeemed"):
        promotion_redeem(actor=actor(outsider), organization=other_org, code="WELCOME50")
    assert Redemption.objects.count() == 1


def test_admins_cannot_redeem(org, admin, promo):
    response = client_for(admin).post(
        reverse("billing_promotion_redeem", args=[org.slug]), {"code": "WELCOME50"}
    )
    assert response.status_code == 403
    assert balance_of(org) == 0
