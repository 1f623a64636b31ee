"""The Organization tab, the member list, the landing redirects and every POST view."""

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains, assertRedirects

from accounts.models import User
from audit.models import AuditEvent
from organizations import invitations
from organizations.models import Invitation, InvitationStatus, Membership, Organization, Role
from organizations.tokens import hash_token
from tests.conftest import actor, client_for, make_org, make_user

HTMX_MEMBER_TABLE = {"HX-Request": "true", "HX-Target": "member-table"}
TOKEN_RE = re.compile(r"/invitations/([A-Za-z0-9_-]+)/")


@pytest.fixture
def invite_token(django_capture_on_commit_callbacks, mailoutbox):
    """Invite and return the token from the emailed link."""

    def _invite(org: Organization, by: User, email: str) -> str:
        with django_capture_on_commit_callbacks(execute=True):
            invite(org, by, email)
        return TOKEN_RE.search(mailoutbox[-1].body).group(1)

    return _invite


def tab_url(org: Organization) -> str:
    return reverse("organization_tab", args=[org.slug])


def add_members(org: Organization, count: int, *, prefix: str = "dev") -> list[Membership]:
    return [
        Membership.objects.create(
            organization=org, user=make_user(f"{prefix}{i}@acme.test", f"Dev {prefix} {i}")
        )
        for i in range(count)
    ]


def invite(org: Organization, by: User, email: str, role: str = Role.MEMBER) -> Invitation:
    return invitations.invitation_create(actor=actor(by), organization=org, email=email, role=role)


def emails_in(html: str) -> list[str]:
    """The member table's email column, in page order."""
    return re.findall(r"<td data-label=\"Email\">([^<@\s]+@[^<\s]+)</td>", html)


def membership_of(user: User, org: Organization) -> Membership:
    return Membership.objects.get(user=user, organization=org)


# --- the tab ------------------------------------------------------------------------------------


def test_the_tab_shows_name_creation_date_seats_roles_and_policies(org, personas):
    Organization.objects.filter(pk=org.pk).update(
        created_at=datetime(2024, 5, 17, 12, 0, tzinfo=UTC)
    )
    add_members(org, 5)
    invite(org, personas["owner"], "new.hire@example.com")

    response = client_for(personas["member"]).get(tab_url(org))

    assert response.status_code == 200
    assertContains(response, "<h1>Acme Robotics</h1>", html=False)
    assertContains(response, "Created 17 May 2024")
    assertContains(response, "9 of 10 seats used")
    assertContains(response, "8 members · 1 pending invitation · 1 free")
    assertContains(response, "1 owner · 1 admin · 6 members")
    assertContains(response, "Code training: <strong>opted out</strong>")
    assertContains(response, "Usage analytics: <strong>on</strong>")
    assertContains(response, 'aria-current="page">Organization')


def test_policy_status_shows_what_is_switched_off(org, personas):
    Organization.objects.filter(pk=org.pk).update(
        code_training_opt_out=False, usage_analytics=False
    )

    response = client_for(personas["member"]).get(tab_url(org))

    assertContains(response, "Code training: <strong>allowed</strong>")
    assertContains(response, "Usage analytics: <strong>off</strong>")


def test_members_see_quick_actions_disabled_with_reasons_and_no_controls(org, personas):
    invite(org, personas["owner"], "secret.hire@example.com")

    response = client_for(personas["member"]).get(tab_url(org))

    assertContains(response, "Only owners and admins can invite.")
    assertContains(response, "Only owners and admins change policies.")
    assertContains(response, 'aria-disabled="true">Manage Seats')
    assertNotContains(response, reverse("invitation_create", args=[org.slug]))
    assertNotContains(response, reverse("organization_policies", args=[org.slug]))
    assertNotContains(response, reverse("organization_settings", args=[org.slug]))
    assertNotContains(response, reverse("ownership_transfer", args=[org.slug]))
    assertNotContains(response, 'role="switch"')
    assertNotContains(response, "Pending invitations")
    assertNotContains(response, "secret.hire@example.com")  # members do not see who is invited
    assertNotContains(response, "/role/")
    assertNotContains(response, "/remove/")
    # Everyone may leave.
    assertContains(response, reverse("organization_leave", args=[org.slug]))


@pytest.mark.parametrize("persona", ["owner", "admin"])
def test_owners_and_admins_get_invite_toggles_and_pending_invitations(org, personas, persona):
    invitation = invite(org, personas["owner"], "new.hire@example.com")

    response = client_for(personas[persona]).get(tab_url(org))

    assertContains(response, f'href="{reverse("invitation_create", args=[org.slug])}"')
    assertContains(response, "6 seats free.")
    assertContains(response, f'action="{reverse("organization_policies", args=[org.slug])}"')
    assertContains(response, 'role="switch" name="code_training_opt_out"')
    assertContains(response, 'role="switch" name="usage_analytics"')
    assertContains(response, "new.hire@example.com")
    assertContains(response, reverse("invitation_revoke", args=[org.slug, invitation.public_id]))
    assertContains(response, reverse("invitation_resend", args=[org.slug, invitation.public_id]))


def test_only_owners_see_settings_transfer_and_role_controls(org, personas):
    owner_page = client_for(personas["owner"]).get(tab_url(org))
    admin_page = client_for(personas["admin"]).get(tab_url(org))
    member_id = membership_of(personas["member"], org).public_id
    admin_id = membership_of(personas["admin"], org).public_id
    owner_id = membership_of(personas["owner"], org).public_id

    for url in (
        reverse("organization_settings", args=[org.slug]),
        reverse("ownership_transfer", args=[org.slug]),
        reverse("member_change_role", args=[org.slug, member_id]),
        reverse("member_remove", args=[org.slug, admin_id]),
    ):
        assertContains(owner_page, url)
        assertNotContains(admin_page, url)
    # Nobody gets controls on their own row.
    assertNotContains(owner_page, reverse("member_change_role", args=[org.slug, owner_id]))
    # Admins may remove members only.
    assertContains(admin_page, reverse("member_remove", args=[org.slug, member_id]))


def test_invite_is_disabled_with_a_reason_when_every_seat_is_used(org, personas):
    Organization.objects.filter(pk=org.pk).update(seat_count=3)

    response = client_for(personas["owner"]).get(tab_url(org))

    assertContains(response, "3 of 3 seats used")
    assertContains(response, "All seats are in use: add seats or revoke an invitation.")
    assertNotContains(response, f'href="{reverse("invitation_create", args=[org.slug])}"')


def test_organization_root_redirects_to_the_tab(org, personas):
    response = client_for(personas["member"]).get(f"/orgs/{org.slug}/")

    assertRedirects(response, tab_url(org))


# --- the member list ----------------------------------------------------------------------------


def test_search_matches_name_or_email_case_insensitively(org, personas):
    by_name = client_for(personas["owner"]).get(tab_url(org), {"q": "MEI"})
    by_email = client_for(personas["owner"]).get(tab_url(org), {"q": "admin@acme"})
    nothing = client_for(personas["owner"]).get(tab_url(org), {"q": "zzz"})

    assert emails_in(by_name.content.decode()) == ["member@acme.test"]
    assertContains(by_name, "1 member matching “MEI”")
    assert emails_in(by_email.content.decode()) == ["admin@acme.test"]
    assertContains(nothing, "No member matches “zzz”.")


def test_sort_by_email_descending(org, personas):
    response = client_for(personas["owner"]).get(tab_url(org), {"sort": "email", "dir": "desc"})

    assert emails_in(response.content.decode()) == [
        "owner@acme.test",
        "member@acme.test",
        "admin@acme.test",
    ]
    assertContains(response, 'aria-sort="descending"')


def test_sort_by_role_puts_owners_first(org, personas):
    response = client_for(personas["member"]).get(tab_url(org), {"sort": "role"})

    assert emails_in(response.content.decode()) == [
        "owner@acme.test",
        "admin@acme.test",
        "member@acme.test",
    ]


def test_sort_by_activity_keeps_the_never_active_last_both_ways(org, personas):
    now = timezone.now()
    Membership.objects.filter(user=personas["owner"]).update(last_activity_at=now)
    Membership.objects.filter(user=personas["admin"]).update(
        last_activity_at=now - timedelta(days=1)
    )
    client = client_for(personas["owner"])

    ascending = client.get(tab_url(org), {"sort": "activity", "dir": "asc"})
    descending = client.get(tab_url(org), {"sort": "activity", "dir": "desc"})

    assert emails_in(ascending.content.decode()) == [
        "admin@acme.test",
        "owner@acme.test",
        "member@acme.test",
    ]
    assert emails_in(descending.content.decode()) == [
        "owner@acme.test",
        "admin@acme.test",
        "member@acme.test",
    ]
    assertContains(ascending, "No activity yet")


def test_pagination_shows_a_page_at_a_time(org, personas):
    add_members(org, 30, prefix="p")  # 33 members: pages of 25
    client = client_for(personas["owner"])

    first = client.get(tab_url(org), {"sort": "email"})
    second = client.get(tab_url(org), {"sort": "email", "page": 2})
    beyond = client.get(tab_url(org), {"sort": "email", "page": 99})

    page_size = django_settings.MEMBERS_PAGE_SIZE
    assert len(emails_in(first.content.decode())) == page_size
    assert len(emails_in(second.content.decode())) == 33 - page_size
    assertContains(first, "Page 1 of 2")
    assertContains(first, "33 members")
    assertContains(second, "Page 2 of 2")
    assert set(emails_in(first.content.decode())).isdisjoint(emails_in(second.content.decode()))
    assert emails_in(beyond.content.decode()) == emails_in(second.content.decode())


def test_nonsense_list_parameters_fall_back_to_the_defaults(org, personas):
    response = client_for(personas["owner"]).get(
        tab_url(org), {"sort": "password", "dir": "sideways", "page": "-3"}
    )

    assert response.status_code == 200
    assert emails_in(response.content.decode()) == [
        "admin@acme.test",
        "member@acme.test",
        "owner@acme.test",
    ]  # by name: Arjun, Mei, Olivia


def test_htmx_requests_for_the_member_table_get_only_the_table(org, personas):
    response = client_for(personas["owner"]).get(
        tab_url(org), {"q": "mei"}, headers=HTMX_MEMBER_TABLE
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="member-table"')
    assert "<html" not in html
    assert "Quick actions" not in html
    assert emails_in(html) == ["member@acme.test"]


def test_htmx_requests_for_another_target_get_the_whole_page(org, personas):
    response = client_for(personas["owner"]).get(
        tab_url(org), headers={"HX-Request": "true", "HX-Target": "main"}
    )

    assertContains(response, "<html", html=False)


def _bulk_members(org: Organization, count: int, *, start: int = 0) -> None:
    now = timezone.now()
    users = User.objects.bulk_create(
        User(email=f"user{i:05d}@bulk.test", name=f"Bulk User {i:05d}", password="!")
        for i in range(start, start + count)
    )
    Membership.objects.bulk_create(
        Membership(
            organization=org,
            user=user,
            role=Role.ADMIN if i % 50 == 0 else Role.MEMBER,
            last_activity_at=now - timedelta(minutes=i) if i % 3 else None,
        )
        for i, user in enumerate(users, start=start)
    )


@pytest.mark.parametrize(
    "params",
    [{}, {"q": "bulk user 0", "sort": "activity", "dir": "desc", "page": 3}],
    ids=["first-page", "search-sorted-page-3"],
)
@pytest.mark.parametrize("headers", [{}, HTMX_MEMBER_TABLE], ids=["page", "htmx-partial"])
def test_the_member_list_query_count_does_not_grow_with_the_members(
    org, personas, params, headers, django_assert_max_num_queries
):
    client = client_for(personas["owner"])
    _bulk_members(org, 80)  # enough for three full pages, as in the large organization
    client.get(tab_url(org), params, headers=headers)  # warm up (session, caches)
    with CaptureQueriesContext(connection) as small:
        assert client.get(tab_url(org), params, headers=headers).status_code == 200

    _bulk_members(org, 1200, start=80)
    assert Membership.objects.filter(organization=org).count() == 1283

    with django_assert_max_num_queries(len(small.captured_queries)):
        response = client.get(tab_url(org), params, headers=headers)
    assert response.status_code == 200
    assert len(emails_in(response.content.decode())) == django_settings.MEMBERS_PAGE_SIZE
    # And small in absolute terms, not merely constant (today: 9 for the page, 5 for the table).
    assert len(small.captured_queries) <= (6 if headers else 10)


# --- landing ------------------------------------------------------------------------------------


def test_home_sends_a_one_organization_user_to_its_tab(org, personas):
    assertRedirects(client_for(personas["member"]).get(reverse("home")), tab_url(org))


def test_home_sends_a_several_organizations_user_to_the_chooser(org, other_org, personas):
    Membership.objects.create(organization=other_org, user=personas["member"])
    client = client_for(personas["member"])

    assertRedirects(client.get(reverse("home")), reverse("organization_chooser"))
    chooser = client.get(reverse("organization_chooser"))
    assertContains(chooser, tab_url(org))
    assertContains(chooser, tab_url(other_org))


def test_home_sends_a_user_without_organization_to_create_one(db):
    response = client_for(make_user("loner@example.com")).get(reverse("home"))

    assertRedirects(response, reverse("organization_create"))


def test_home_sends_anonymous_visitors_to_log_in(db):
    response = client_for(None).get(reverse("home"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


# --- invitations --------------------------------------------------------------------------------


def test_inviting_sends_an_email_whose_link_lets_the_invitee_join(
    org, personas, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(personas["admin"]).post(
            reverse("invitation_create", args=[org.slug]),
            {"email": "Nia@Example.com", "role": Role.MEMBER},
        )

    assertRedirects(response, tab_url(org), fetch_redirect_response=False)
    invitation = Invitation.objects.get(organization=org)
    assert (invitation.email, invitation.role, invitation.invited_by) == (
        "nia@example.com",
        Role.MEMBER,
        personas["admin"],
    )
    [email] = mailoutbox
    assert email.to == ["nia@example.com"]
    assert email.subject == "Arjun Adeyemi invited you to Acme Robotics on Kilo Teams"
    link = re.search(r"https?://\S+/invitations/\S+/", email.body).group(0)
    assert link.startswith(django_settings.SITE_URL)
    assert link in email.alternatives[0][0]  # the HTML part has the same link
    assert "expires on" in email.body

    path = urlsplit(link).path
    landing = client_for(None).get(path)
    assertContains(landing, "Join Acme Robotics")
    assertContains(landing, "nia@example.com")

    invitee = make_user("nia@example.com", "Nia Newcomer")
    client = client_for(invitee)
    assertContains(client.get(path), "Accept invitation")
    accepted = client.post(path)

    assertRedirects(accepted, tab_url(org))
    assert membership_of(invitee, org).role == Role.MEMBER
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.ACCEPTED
    assertContains(client.get(tab_url(org)), "4 of 10 seats used")


def test_the_invite_page_shows_the_seats_and_what_admins_may_not_do(org, personas):
    response = client_for(personas["admin"]).get(reverse("invitation_create", args=[org.slug]))

    assertContains(response, "3 of 10 seats used · 7 free")
    assertContains(response, "only owners can invite admins")


def test_inviting_beyond_the_seats_is_refused_with_a_clear_message(org, personas):
    Organization.objects.filter(pk=org.pk).update(seat_count=3)

    response = client_for(personas["owner"]).post(
        reverse("invitation_create", args=[org.slug]),
        {"email": "one.too.many@example.com", "role": Role.MEMBER},
    )

    assert response.status_code == 400
    assertContains(response, "All 3 seats are in use", status_code=400)
    assert not Invitation.objects.exists()


def test_accepting_with_another_signed_in_address_is_refused(org, personas, invite_token):
    token = invite_token(org, personas["owner"], "nia@example.com")

    response = client_for(personas["outsider"]).post(f"/invitations/{token}/")

    assertContains(response, "This invitation is for nia@example.com", status_code=400)
    assertContains(response, "Sign out and use nia@example.com", status_code=400)
    assert not Membership.objects.filter(organization=org, user=personas["outsider"]).exists()


def test_accepting_with_an_unverified_address_is_refused(org, personas, invite_token):
    token = invite_token(org, personas["owner"], "nia@example.com")
    unverified = make_user("nia@example.com", verified=False)

    response = client_for(unverified).post(f"/invitations/{token}/")

    assertContains(response, "Verify nia@example.com", status_code=400)
    assert not Membership.objects.filter(user=unverified).exists()


def test_resend_post_rotates_the_link_and_emails_it_again(
    org, personas, mailoutbox, django_capture_on_commit_callbacks, time_machine
):
    invitation = invite(org, personas["owner"], "slow@example.com")
    old_hash = invitation.token_hash
    time_machine.move_to(invitation.sent_at + timedelta(minutes=11))  # past the resend cooldown

    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(personas["admin"]).post(
            reverse("invitation_resend", args=[org.slug, invitation.public_id])
        )

    assertRedirects(response, tab_url(org) + "#invitations", fetch_redirect_response=False)
    invitation.refresh_from_db()
    assert invitation.token_hash != old_hash
    assert [m.to for m in mailoutbox] == [["slow@example.com"]]
    assert invitation.token_hash == hash_token(TOKEN_RE.search(mailoutbox[0].body).group(1))


def test_revoke_post_revokes_and_says_so(org, personas):
    invitation = invite(org, personas["owner"], "nope@example.com")
    client = client_for(personas["admin"])

    response = client.post(
        reverse("invitation_revoke", args=[org.slug, invitation.public_id]), follow=True
    )

    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.REVOKED
    assertContains(response, "The invitation to nope@example.com was revoked.")
    assertContains(response, "No pending invitations.")


def test_revoking_twice_shows_an_error_and_changes_nothing(org, personas):
    invitation = invite(org, personas["owner"], "nope@example.com")
    client = client_for(personas["admin"])
    url = reverse("invitation_revoke", args=[org.slug, invitation.public_id])
    client.post(url)

    response = client.post(url, follow=True)

    assertContains(response, "This invitation is no longer pending.")
    assert AuditEvent.objects.filter(action="invitation.revoked").count() == 1


# --- members ------------------------------------------------------------------------------------


def test_an_owner_changes_a_role(org, personas):
    target = membership_of(personas["member"], org)

    response = client_for(personas["owner"]).post(
        reverse("member_change_role", args=[org.slug, target.public_id]),
        {"role": Role.ADMIN},
        follow=True,
    )

    target.refresh_from_db()
    assert target.role == Role.ADMIN
    assertContains(response, "member@acme.test is now Admin.")


def test_demoting_the_last_owner_shows_why_it_was_refused(org, personas):
    own = membership_of(personas["owner"], org)

    response = client_for(personas["owner"]).post(
        reverse("member_change_role", args=[org.slug, own.public_id]),
        {"role": Role.MEMBER},
        follow=True,
    )

    assertContains(response, "is the last owner and cannot be demoted")
    assert membership_of(personas["owner"], org).role == Role.OWNER


def test_an_admin_removes_a_member(org, personas):
    target = membership_of(personas["member"], org)

    response = client_for(personas["admin"]).post(
        reverse("member_remove", args=[org.slug, target.public_id]), follow=True
    )

    assert not Membership.objects.filter(pk=target.pk).exists()
    assertContains(response, "member@acme.test was removed and their seat freed.")
    assertContains(response, "2 of 10 seats used")


def test_a_member_leaves_and_lands_on_home(org, personas):
    response = client_for(personas["member"]).post(reverse("organization_leave", args=[org.slug]))

    assertRedirects(response, reverse("home"), fetch_redirect_response=False)
    assert not Membership.objects.filter(user=personas["member"]).exists()


def test_the_last_owner_is_told_why_they_cannot_leave(org, personas):
    response = client_for(personas["owner"]).post(reverse("organization_leave", args=[org.slug]))

    assertContains(response, "is the last owner", status_code=400)
    assert membership_of(personas["owner"], org).role == Role.OWNER


def test_ownership_transfer_needs_the_slug_typed_to_confirm(org, personas):
    target = membership_of(personas["member"], org)
    url = reverse("ownership_transfer", args=[org.slug])
    client = client_for(personas["owner"])

    wrong = client.post(url, {"new_owner": str(target.public_id), "confirm": "ACME "})
    assertContains(wrong, "Type “acme” exactly to confirm.", status_code=400)
    assert membership_of(personas["owner"], org).role == Role.OWNER

    right = client.post(url, {"new_owner": str(target.public_id), "confirm": "acme"})
    assertRedirects(right, tab_url(org), fetch_redirect_response=False)
    assert membership_of(personas["member"], org).role == Role.OWNER
    assert membership_of(personas["owner"], org).role == Role.ADMIN


def test_the_transfer_page_lists_every_other_member(org, personas):
    response = client_for(personas["owner"]).get(reverse("ownership_transfer", args=[org.slug]))

    assertContains(response, str(membership_of(personas["member"], org).public_id))
    assertContains(response, str(membership_of(personas["admin"], org).public_id))
    assertNotContains(response, str(membership_of(personas["owner"], org).public_id))


# --- organization settings, policies, creation --------------------------------------------------


def test_an_owner_saves_the_settings(org, personas):
    response = client_for(personas["owner"]).post(
        reverse("organization_settings", args=[org.slug]),
        {"name": "Acme Robotics GmbH", "time_zone": "Asia/Tokyo", "billing_email": "ap@acme.test"},
    )

    assertRedirects(response, tab_url(org), fetch_redirect_response=False)
    org.refresh_from_db()
    assert (org.name, org.time_zone, org.billing_email) == (
        "Acme Robotics GmbH",
        "Asia/Tokyo",
        "ap@acme.test",
    )


def test_the_settings_page_is_prefilled(org, personas):
    response = client_for(personas["owner"]).get(reverse("organization_settings", args=[org.slug]))

    assertContains(response, 'value="Acme Robotics"')
    assertContains(response, '<option value="Europe/Berlin" selected>')


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({}, (False, False)),
        ({"code_training_opt_out": "on", "usage_analytics": "on"}, (True, True)),
        ({"usage_analytics": "on"}, (False, True)),
    ],
)
def test_an_admin_sets_the_data_collection_toggles(org, personas, data, expected):
    response = client_for(personas["admin"]).post(
        reverse("organization_policies", args=[org.slug]), data
    )

    assertRedirects(response, tab_url(org) + "#policies", fetch_redirect_response=False)
    org.refresh_from_db()
    assert (org.code_training_opt_out, org.usage_analytics) == expected


def test_creating_an_organization_makes_its_owner_and_opens_its_tab(db):
    founder = make_user("founder@example.com", "Fay Founder")

    response = client_for(founder).post(
        reverse("organization_create"), {"name": "Hooli XYZ", "slug": "", "time_zone": "UTC"}
    )

    org = Organization.objects.get(slug="hooli-xyz")
    assertRedirects(response, tab_url(org), fetch_redirect_response=False)
    assert membership_of(founder, org).role == Role.OWNER
    assert org.seat_count == django_settings.NEW_ORGANIZATION_SEATS


def test_creating_an_organization_with_a_taken_address_is_refused(org):
    founder = make_user("founder@example.com")

    response = client_for(founder).post(
        reverse("organization_create"), {"name": "Acme", "slug": "ACME", "time_zone": "UTC"}
    )

    assertContains(response, "The address “acme” is taken", status_code=400)
    assert Organization.objects.count() == 1


def test_an_unverified_user_is_asked_to_verify_before_creating(db):
    unverified = make_user("founder@example.com", verified=False)
    client = client_for(unverified)

    assertContains(client.get(reverse("organization_create")), "Verify your email address first")
    response = client.post(
        reverse("organization_create"), {"name": "Hooli", "slug": "hooli", "time_zone": "UTC"}
    )

    assert response.status_code == 400
    assert not Organization.objects.exists()


def test_a_second_organization_keeps_the_first(org, personas):
    make_org("hooli", "Hooli")

    client_for(personas["owner"]).post(
        reverse("organization_create"), {"name": "Pied Piper", "slug": "", "time_zone": "UTC"}
    )

    assert set(personas["owner"].memberships.values_list("organization__slug", flat=True)) == {
        "acme",
        "pied-piper",
    }
