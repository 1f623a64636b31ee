"""The Audit logs tab in Chromium: an admin narrows the log to one member through the filter form
(htmx, the URL follows), loads older events in place, and the page fits a phone's width.

Set AUDIT_SCREENSHOTS=<folder> to keep screenshots of the tab at 1366 and 390 px.
"""

import os
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import transaction
from django.utils import timezone
from playwright.sync_api import Page, expect

from audit.services import Actor, audit_record
from organizations.models import Plan
from tests.conftest import PASSWORD
from tests.e2e.conftest import browser, new_page  # noqa: F401 - the browser fixtures

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SHOTS = os.environ.get("AUDIT_SCREENSHOTS", "")
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:130.0) Gecko/20100101 Firefox/130.0"


def _log_in(page: Page, base_url: str, email: str) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()


def _history(org, owner, admin, member) -> None:
    """60 events of the last days (more than one page), of every kind of actor."""
    now = timezone.now()
    with transaction.atomic():
        for i in range(52):
            audit_record(
                actor=Actor(user=admin, ip_address="198.51.100.4", user_agent=FIREFOX),
                action="invitation.created",
                organization=org,
                target_label=f"new.hire{i}@example.com",
                after={"email": f"new.hire{i}@example.com", "role": "member"},
            )
        audit_record(
            actor=Actor(user=owner, ip_address="203.0.113.7", user_agent=FIREFOX),
            action="member.role_changed",
            organization=org,
            target=member,
            target_label="Mei Martinez",
            before={"role": "member"},
            after={"role": "admin"},
        )
        audit_record(
            actor=Actor.stripe("Stripe event evt_1QxYz (payment_method.detached)"),
            action="billing.card_removed",
            organization=org,
            target_type="paymentmethod",
            target_label="Visa ···· 4242",
            before={"brand": "Visa", "last4": "4242", "expiry": "12/2030", "default": True},
        )
        audit_record(
            actor=Actor.stripe("Stripe event evt_2AbCd (customer.updated)"),
            action="billing.details_updated",
            organization=org,
            target_type="stripecustomer",
            target_label="Billing details",
            before={"email": "ap@acme.test", "address_city": "Berlin"},
            after={"email": "invoices@acme.test", "address_city": "Hamburg"},
        )
        audit_record(
            actor=Actor(user=member, ip_address="2001:db8::1", user_agent=FIREFOX),
            action="export.usage_csv",
            organization=org,
            target=org,
            after={"filters": {"start": (now - timedelta(days=7)).date().isoformat()}},
        )


def test_an_admin_filters_to_one_member_and_pages_through_older_events(
    live_server,
    org,
    owner,
    admin,
    member,
    new_page,  # noqa: F811
):
    org.plan = Plan.ENTERPRISE
    org.save(update_fields=["plan"])
    _history(org, owner, admin, member)
    url = f"{live_server.url}/orgs/{org.slug}/audit/"

    for width in (1366, 390):
        page = new_page(width)
        _log_in(page, live_server.url, admin.email)
        page.goto(url)
        rows = page.locator("#audit-rows > tr:not(#audit-more)")
        expect(rows).to_have_count(50)
        # Nothing wider than the screen but the tables' own scrolling boxes.
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the page scrolls sideways by {overflow}px at {width}px"
        if SHOTS:
            Path(SHOTS).mkdir(parents=True, exist_ok=True)
            page.screenshot(path=f"{SHOTS}/audit-{width}.png", full_page=True)

    page.get_by_role("link", name="Older events").click()
    expect(rows).to_have_count(58)  # 56 events above and the admin's two sign-ins
    expect(page.get_by_role("link", name="Older events")).to_have_count(0)

    page.get_by_label("User").select_option(label="Mei Martinez <member@acme.test>")
    expect(page).to_have_url(re.compile(r"member="))
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Usage exported (CSV)")
    expect(page.get_by_role("status")).to_contain_text("1 event")
