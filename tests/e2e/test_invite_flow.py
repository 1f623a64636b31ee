"""The owner invites a new member in the browser; the invitee signs up from the emailed link and
accepts; the owner's Organization tab then shows one more member and the same number of used seats
(the pending invitation became a membership).
"""

import re
from pathlib import Path

import pytest
from django.core import mail
from playwright.sync_api import Page, expect

from organizations.models import Invitation, InvitationStatus, Membership, Role
from tests.conftest import PASSWORD
from tests.e2e.steps import log_in

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("eager_tasks"),
]

INVITEE = "newbie@example.test"


def _stat(page: Page, label: str):
    """The stat card on the Organization tab whose heading is `label`."""
    return page.locator("article.stat").filter(has=page.get_by_role("heading", name=label))


def test_invitee_signs_up_from_the_emailed_link_and_the_owner_sees_the_new_member(
    live_server, settings, org, owner, admin, member, mailoutbox, new_page, tmp_path: Path
):
    # Links in emails point at SITE_URL; here that is the live server (same process).
    settings.SITE_URL = live_server.url
    base = live_server.url
    tab_url = f"{base}/orgs/{org.slug}/organization/"

    # The owner logs in through the form and lands on the Organization tab.
    owner_page = new_page()
    log_in(owner_page, base, owner.email)
    expect(owner_page).to_have_url(tab_url)
    seats = _stat(owner_page, "Seats")
    members = _stat(owner_page, "Active members")
    expect(seats).to_contain_text("3 of 10 seats used")
    expect(members.locator(".stat__value")).to_have_text("3")
    owner_page.screenshot(path=tmp_path / "01-owner-before.png", full_page=True)

    # ... and invites a new address through the Invite Member form.
    owner_page.get_by_role("link", name="Invite Member").first.click()
    expect(owner_page.get_by_role("heading", name="Invite a member")).to_be_visible()
    owner_page.get_by_label("Email address").fill(INVITEE)
    owner_page.get_by_label("Role").select_option(Role.MEMBER)
    owner_page.get_by_role("button", name="Send invitation").click()
    expect(owner_page).to_have_url(tab_url)
    expect(owner_page.get_by_text(f"Invitation sent to {INVITEE}.")).to_be_visible()
    expect(seats).to_contain_text("4 of 10 seats used")
    expect(seats).to_contain_text("3 members · 1 pending invitation · 6 free")
    expect(members.locator(".stat__value")).to_have_text("3")
    invitations = owner_page.locator("#invitations")
    expect(invitations.get_by_role("cell", name=INVITEE, exact=True)).to_be_visible()
    owner_page.screenshot(path=tmp_path / "02-owner-invited.png", full_page=True)

    # The email went out when the invitation was committed, before the redirect was answered.
    assert [message.to for message in mailoutbox] == [[INVITEE]]
    links = re.findall(rf"{re.escape(base)}/invitations/\S+/", mailoutbox[0].body)
    assert len(links) == 1, mailoutbox[0].body
    invitation_link = links[0]

    # The invitee, in a browser of their own, opens the link, signs up and accepts.
    invitee_page = new_page(width=390)
    invitee_page.goto(invitation_link)
    expect(invitee_page.get_by_role("heading", name=f"Join {org.name}")).to_be_visible()
    invitee_page.screenshot(path=tmp_path / "03-invitee-link.png", full_page=True)
    invitee_page.get_by_role("link", name="Create an account").click()
    expect(invitee_page.get_by_role("heading", name="Sign Up")).to_be_visible()
    invitee_page.get_by_label("Email", exact=True).fill(INVITEE)
    invitee_page.get_by_label("Full name").fill("Nico Newbie")
    invitee_page.get_by_label("Password", exact=True).fill(PASSWORD)
    invitee_page.get_by_label("Password (again)").fill(PASSWORD)
    invitee_page.get_by_role("button", name="Sign Up").click()

    # Opening the emailed link proved the address: no second verification, straight back.
    expect(invitee_page).to_have_url(invitation_link)
    invitee_page.screenshot(path=tmp_path / "04-invitee-signed-up.png", full_page=True)
    invitee_page.get_by_role("button", name="Accept invitation").click()
    expect(invitee_page).to_have_url(tab_url)
    expect(invitee_page.get_by_text(f"Welcome to {org.name}.")).to_be_visible()
    invitee_page.screenshot(path=tmp_path / "05-invitee-joined.png", full_page=True)
    assert len(mail.outbox) == 1, "signing up from the link sends no verification email"

    # The owner reloads: one more member, same seats used, no pending invitation.
    owner_page.reload()
    expect(seats).to_contain_text("4 of 10 seats used")
    expect(seats).to_contain_text("4 members · 0 pending invitations · 6 free")
    expect(members.locator(".stat__value")).to_have_text("4")
    expect(members).to_contain_text("1 owner · 1 admin · 2 members")
    table = owner_page.locator("#member-table")
    expect(table).to_contain_text("4 members")
    expect(table.get_by_role("cell", name=INVITEE, exact=True)).to_be_visible()
    expect(owner_page.locator("#invitations")).to_contain_text("No pending invitations.")
    owner_page.screenshot(path=tmp_path / "06-owner-after.png", full_page=True)

    joined = Membership.objects.select_related("user").get(organization=org, user__email=INVITEE)
    assert joined.role == Role.MEMBER
    assert joined.user.name == "Nico Newbie"
    assert Invitation.objects.get(email=INVITEE).status == InvitationStatus.ACCEPTED
    assert sorted(p.name for p in tmp_path.glob("*.png")) == [
        "01-owner-before.png",
        "02-owner-invited.png",
        "03-invitee-link.png",
        "04-invitee-signed-up.png",
        "05-invitee-joined.png",
        "06-owner-after.png",
    ]
