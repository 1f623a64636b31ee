"""In the browser: Remove member (then Undo), Revoke invitation, Remove card and Buy credits each
stop on a page that names the person, the card or the amount, and act only when confirmed.
No JavaScript is involved in any of them: each step is a link or a form post."""

import pytest
from playwright.sync_api import expect

from billing.models import Payment, PaymentMethod
from organizations import invitations
from organizations.models import Invitation, InvitationStatus, Membership, Role
from tests.billing.conftest import add_card
from tests.conftest import actor
from tests.e2e.steps import log_in

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("eager_tasks"),
]


def test_remove_member_confirms_by_name_and_can_be_undone(
    live_server, org, owner, member, new_page
):
    base = live_server.url
    page = new_page()
    log_in(page, base, owner.email)
    page.goto(f"{base}/orgs/{org.slug}/organization/")

    page.get_by_role("link", name="Remove member@acme.test").click()
    expect(
        page.get_by_role(
            "heading", name="Remove Mei Martinez (member@acme.test) from Acme Robotics?"
        )
    ).to_be_visible()
    assert Membership.objects.filter(user=member, organization=org).exists()
    page.get_by_role("link", name="Cancel").click()
    expect(page.get_by_role("heading", name="Acme Robotics", exact=True)).to_be_visible()
    assert Membership.objects.filter(user=member, organization=org).exists()

    page.get_by_role("link", name="Remove member@acme.test").click()
    page.get_by_role("button", name="Remove member@acme.test").click()
    expect(page.get_by_text("member@acme.test was removed and their seat freed.")).to_be_visible()
    assert not Membership.objects.filter(user=member, organization=org).exists()

    page.get_by_role("button", name="Undo removal of member@acme.test").click()
    expect(page.get_by_text("Undone: member@acme.test is back, as Member.")).to_be_visible()
    expect(page.locator("#member-table")).to_contain_text("member@acme.test")
    assert Membership.objects.get(user=member, organization=org).role == Role.MEMBER


def test_revoke_invitation_confirms_with_the_address(live_server, org, owner, new_page):
    invitations.invitation_create(
        actor=actor(owner), organization=org, email="late@example.test", role=Role.MEMBER
    )
    base = live_server.url
    page = new_page(width=390)  # the phone layout too
    log_in(page, base, owner.email)
    page.goto(f"{base}/orgs/{org.slug}/organization/#invitations")

    page.get_by_role("link", name="Revoke invitation to late@example.test").click()
    expect(
        page.get_by_role("heading", name="Revoke the invitation to late@example.test?")
    ).to_be_visible()
    page.get_by_role("button", name="Revoke invitation to late@example.test").click()
    expect(page.get_by_text("The invitation to late@example.test was revoked.")).to_be_visible()
    assert Invitation.objects.get(email="late@example.test").status == InvitationStatus.REVOKED


def test_buy_credits_confirms_the_amount_and_remove_card_the_card(
    live_server, org, owner, new_page
):
    first = add_card(org, owner)
    add_card(org, owner, "5555555555554444")
    base = live_server.url
    page = new_page()
    log_in(page, base, owner.email)
    page.goto(f"{base}/orgs/{org.slug}/billing/")

    page.locator("label.preset", has_text="$1,000").click()
    page.get_by_role("button", name="Review purchase").click()
    expect(page.get_by_role("heading", name="Buy $1,000.00 of credits?")).to_be_visible()
    expect(page.get_by_test_id("confirm-amount")).to_have_text("$1,000.00")
    page.get_by_role("link", name="Cancel").click()
    assert not Payment.objects.exists()

    page.get_by_label("Other amount").fill("250.75")
    page.get_by_role("button", name="Review purchase").click()
    expect(page.get_by_role("heading", name="Buy $250.75 of credits?")).to_be_visible()
    page.get_by_role("button", name="Pay $250.75").click()
    expect(page.get_by_text("Payment of $250.75 received.")).to_be_visible()
    assert list(Payment.objects.values_list("amount_cents", flat=True)) == [250_75]

    page.get_by_role("link", name="Remove Visa ···· 4242").click()
    expect(page.get_by_role("heading", name="Remove Visa ···· 4242?")).to_be_visible()
    expect(page.get_by_text("···· 4444 becomes the default card")).to_be_visible()
    page.get_by_role("button", name="Remove Visa ···· 4242").click()
    expect(page.get_by_text("Visa ···· 4242 removed.")).to_be_visible()
    assert PaymentMethod.objects.get(pk=first.pk).detached_at is not None
