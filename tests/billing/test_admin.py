"""Django admin: Stripe events with status and error, ledger read-only, promotion codes."""

import pytest
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.db import transaction
from django.test import Client

from accounts.models import User
from billing.ledger import ledger_append
from billing.models import CreditLedgerEntry
from stripe_events.models import StripeEvent

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
    response = staff.get("/admin/stripe_events/stripeevent/")
    assert response.status_code == 200
    assert b"evt_admin_1" in response.content and b"GatewayError: Not Found" in response.content


def test_the_ledger_is_read_only_in_admin(staff, org):
    with transaction.atomic():
        entry = ledger_append(
            organization=org,
            kind="promotional",
            amount_microdollars=25_000_000,
            idempotency_key="promo:admin-view",
            description="Welcome credit",
        )
    before = CreditLedgerEntry.objects.values().get(pk=entry.pk)
    listing = staff.get("/admin/billing/creditledgerentry/")
    assert listing.status_code == 200 and b"promo:admin-view" in listing.content
    assert staff.get("/admin/billing/creditledgerentry/add/").status_code == 403
    change_url = f"/admin/billing/creditledgerentry/{entry.pk}/change/"
    page = staff.get(change_url)
    assert page.status_code == 200 and b"Welcome credit" in page.content
    assert b'name="_save"' not in page.content  # shown read-only: no save button
    edit = {"description": "edited", "amount_microdollars": "1", "kind": "adjustment"}
    assert staff.post(change_url, edit).status_code == 403
    delete_url = f"/admin/billing/creditledgerentry/{entry.pk}/delete/"
    assert staff.post(delete_url, {"post": "yes"}).status_code == 403
    staff.post(
        "/admin/billing/creditledgerentry/",
        {"action": "delete_selected", "_selected_action": [entry.pk], "post": "yes"},
    )
    assert list(CreditLedgerEntry.objects.values()) == [before]  # nothing changed or went


def test_staff_create_promotion_codes(staff):
    response = staff.post(
        "/admin/billing/promotioncode/add/",
        {"code": "spring25", "description": "", "amount_microdollars": "25000000", "active": "on"},
    )
    assert response.status_code == 302
    from billing.models import PromotionCode

    assert PromotionCode.objects.get().code == "SPRING25"
