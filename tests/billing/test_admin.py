"""Django admin: Stripe events with status and error, ledger read-only, promotion codes."""

import pytest
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.test import Client

from accounts.models import User
from billing.models import CreditLedgerEntry, StripeEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff() -> Client:
    user = User.objects.create_superuser(email="staff@kilo.test", password="x-staff-pass-123")
    TOTP.activate(user, generate_totp_secret())  # the admin opens only to staff using MFA
    client = Client()
    client.force_login(user)
    return client


def test_stripe_events_are_listed_with_status_and_error(staff):
    StripeEvent.objects.create(
        stripe_id="evt_admin_1",
        type="invoice.paid",
        status="failed",
        error="GatewayError: Not Found",
        payload={"id": "evt_admin_1"},
    )
    response = staff.get("/admin/billing/stripeevent/")
    assert response.status_code == 200
    assert b"evt_admin_1" in response.content and b"GatewayError: Not Found" in response.content


def test_the_ledger_is_read_only_in_admin(staff, org):
    assert staff.get("/admin/billing/creditledgerentry/").status_code == 200
    assert staff.get("/admin/billing/creditledgerentry/add/").status_code == 403
    assert not CreditLedgerEntry.objects.exists()


def test_staff_create_promotion_codes(staff):
    response = staff.post(
        "/admin/billing/promotioncode/add/",
        {"code": "spring25", "description": "", "amount_microdollars": "25000000", "active": "on"},
    )
    assert response.status_code == 302
    from billing.models import PromotionCode

    assert PromotionCode.objects.get().code == "SPRING25"
