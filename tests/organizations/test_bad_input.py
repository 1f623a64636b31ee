"""Bad input: every refusal is a clear page with the right status code, and changes nothing."""

import re
import uuid
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from pytest_django.asserts import assertContains

from audit.models import AuditEvent
from organizations import invitations
from organizations.models import Invitation, InvitationStatus, Membership, Organization, Role
from tests.conftest import actor, client_for, make_user

TOKEN_RE = re.compile(r"/invitations/([A-Za-z0-9_-]+)/")


def snapshot() -> tuple:
    """Everything a request to the Organization tab could change."""
    return (
        list(Organization.objects.order_by("pk").values()),
        list(Membership.objects.order_by("pk").values()),
        list(Invitation.objects.order_by("pk").values()),
        AuditEvent.objects.count(),
    )


@pytest.fixture
def invite_token(django_capture_on_commit_callbacks, mailoutbox):
    """Invite and return (invitation, token from the emailed link)."""

    def _invite(org, by, email):
        with django_capture_on_commit_callbacks(execute=True):
            invitation = invitations.invitation_create(
                actor=actor(by), organization=org, email=email, role=Role.MEMBER
            )
        return invitation, TOKEN_RE.search(mailoutbox[-1].body).group(1)

    return _invite


def invite_url(org) -> str:
    return reverse("invitation_create", args=[org.slug])


# --- malformed and over-long emails -------------------------------------------------------------

LONG_LOCAL = "a" * 64
# Well-formed, but longer than the 254 characters an address may have (and the column holds).
TOO_LONG_EMAIL = f"{LONG_LOCAL}@{'b' * 60}.{'c' * 60}.{'d' * 60}.{'e' * 10}.com"


@pytest.mark.parametrize(
    "email",
    [
        "",
        "not-an-email",
        "a@b",
        "a@@example.com",
        "a b@example.com",
        "a@example.com\nBcc: victim@example.com",
        "<script>alert(1)</script>@example.com",
        TOO_LONG_EMAIL,
    ],
    ids=["empty", "no-at", "no-tld", "double-at", "space", "header-injection", "markup", "255+"],
)
def test_a_malformed_invitation_email_is_refused(org, personas, email, mailoutbox):
    before = snapshot()

    response = client_for(personas["owner"]).post(
        invite_url(org), {"email": email, "role": Role.MEMBER}
    )

    assert response.status_code == 400
    assertContains(response, 'class="field__error"', status_code=400)
    assert snapshot() == before
    assert mailoutbox == []


def test_the_too_long_address_is_really_longer_than_an_address_may_be():
    assert len(TOO_LONG_EMAIL) > 254


def test_a_malformed_or_too_long_billing_email_is_refused(org, personas):
    url = reverse("organization_settings", args=[org.slug])
    before = snapshot()

    for billing_email in ("billing-at-acme", TOO_LONG_EMAIL):
        response = client_for(personas["owner"]).post(
            url, {"name": "Acme", "time_zone": "UTC", "billing_email": billing_email}
        )
        assert response.status_code == 400

    assert snapshot() == before


# --- duplicates ---------------------------------------------------------------------------------


def test_a_duplicate_invitation_is_refused_whatever_the_case(org, personas):
    client = client_for(personas["owner"])
    client.post(invite_url(org), {"email": "dup@example.com", "role": Role.MEMBER})
    before = snapshot()

    response = client.post(invite_url(org), {"email": " DUP@Example.com ", "role": Role.ADMIN})

    assertContains(
        response,
        "dup@example.com already has a pending invitation; resend it instead.",
        status_code=400,
    )
    assert snapshot() == before


def test_inviting_a_current_member_is_refused(org, personas):
    before = snapshot()

    response = client_for(personas["admin"]).post(
        invite_url(org), {"email": "MEMBER@acme.test", "role": Role.MEMBER}
    )

    assertContains(response, "is already a member of Acme Robotics", status_code=400)
    assert snapshot() == before


# --- forged, expired, reused tokens -------------------------------------------------------------


@pytest.mark.parametrize(
    "token",
    ["forged-token", "x" * 5000, "%00", "a.b~c!d"],
    ids=["forged", "over-long", "nul", "punctuation"],
)
@pytest.mark.parametrize("method", ["get", "post"])
def test_a_forged_token_gets_a_not_found_page(org, personas, token, method):
    before = snapshot()

    response = getattr(client_for(personas["member"]), method)(f"/invitations/{token}/")

    assertContains(response, "Invitation not found", status_code=404)
    assertContains(response, "not valid", status_code=404)
    assert snapshot() == before


@pytest.mark.parametrize("method", ["get", "post"])
def test_an_expired_token_gets_a_gone_page(org, personas, invite_token, time_machine, method):
    _, token = invite_token(org, personas["owner"], "late@example.com")
    invitee = make_user("late@example.com")
    time_machine.move_to(Invitation.objects.get().expires_at + timedelta(seconds=1))
    before = snapshot()

    response = getattr(client_for(invitee), method)(f"/invitations/{token}/")

    assertContains(response, "This invitation has expired", status_code=410)
    assertContains(response, "Ask an administrator to send a new one.", status_code=410)
    assert snapshot() == before


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_used_token_gets_a_gone_page(org, personas, invite_token, method):
    _, token = invite_token(org, personas["owner"], "nia@example.com")
    invitee = make_user("nia@example.com")
    client = client_for(invitee)
    client.post(f"/invitations/{token}/")
    before = snapshot()

    response = getattr(client, method)(f"/invitations/{token}/")

    assertContains(response, "This invitation was already used", status_code=410)
    assert snapshot() == before
    assert Membership.objects.filter(user=invitee).count() == 1


def test_a_revoked_token_gets_a_gone_page(org, personas, invite_token):
    invitation, token = invite_token(org, personas["owner"], "nia@example.com")
    invitations.invitation_revoke(
        actor=actor(personas["owner"]), organization=org, public_id=invitation.public_id
    )
    invitee = make_user("nia@example.com")
    before = snapshot()

    response = client_for(invitee).post(f"/invitations/{token}/")

    assertContains(response, "This invitation was revoked", status_code=410)
    assert snapshot() == before


def test_a_token_replaced_by_a_resend_no_longer_works(org, personas, invite_token, time_machine):
    invitation, old_token = invite_token(org, personas["owner"], "nia@example.com")
    time_machine.move_to(invitation.sent_at + timedelta(minutes=11))  # past the resend cooldown
    invitations.invitation_resend(
        actor=actor(personas["owner"]), organization=org, public_id=invitation.public_id
    )
    invitee = make_user("nia@example.com")

    response = client_for(invitee).post(f"/invitations/{old_token}/")

    assertContains(response, "replaced by a newer one", status_code=404)
    assert not Membership.objects.filter(user=invitee).exists()
    assert Invitation.objects.get().status == InvitationStatus.PENDING


# --- CSRF ---------------------------------------------------------------------------------------


@pytest.fixture
def csrf_world(org, personas, invite_token):
    invitation, token = invite_token(org, personas["owner"], "nia@example.com")
    return {
        "org": org,
        "invitation": invitation,
        "token": token,
        "invitee": make_user("nia@example.com"),
        "member_id": Membership.objects.get(user=personas["member"]).public_id,
        **personas,
    }


CSRF_POSTS = {
    "organization_settings": lambda w: (
        reverse("organization_settings", args=["acme"]),
        {"name": "Hijacked", "time_zone": "UTC", "billing_email": "evil@example.com"},
    ),
    "organization_policies": lambda w: (reverse("organization_policies", args=["acme"]), {}),
    "invitation_create": lambda w: (
        reverse("invitation_create", args=["acme"]),
        {"email": "evil@example.com", "role": Role.MEMBER},
    ),
    "invitation_resend": lambda w: (
        reverse("invitation_resend", args=["acme", w["invitation"].public_id]),
        {},
    ),
    "invitation_revoke": lambda w: (
        reverse("invitation_revoke", args=["acme", w["invitation"].public_id]),
        {},
    ),
    "member_change_role": lambda w: (
        reverse("member_change_role", args=["acme", w["member_id"]]),
        {"role": Role.OWNER},
    ),
    "member_remove": lambda w: (reverse("member_remove", args=["acme", w["member_id"]]), {}),
    "organization_leave": lambda w: (reverse("organization_leave", args=["acme"]), {}),
    "ownership_transfer": lambda w: (
        reverse("ownership_transfer", args=["acme"]),
        {"new_owner": str(w["member_id"]), "confirm": "acme"},
    ),
    "organization_create": lambda w: (
        reverse("organization_create"),
        {"name": "Evil Corp", "slug": "evil", "time_zone": "UTC"},
    ),
    "invitation_accept": lambda w: (f"/invitations/{w['token']}/", {}),
}


@pytest.mark.parametrize("name", sorted(CSRF_POSTS))
def test_a_post_without_a_csrf_token_is_refused_and_changes_nothing(csrf_world, name):
    url, data = CSRF_POSTS[name](csrf_world)
    # The owner may do everything here but accept the invitation, which is the invitee's.
    client = Client(enforce_csrf_checks=True)
    client.force_login(csrf_world["invitee" if name == "invitation_accept" else "owner"])
    before = snapshot()

    response = client.post(url, data)

    assert response.status_code == 403
    assert b"CSRF" in response.content  # refused by the CSRF check, not by a role
    assert snapshot() == before


def test_the_same_post_with_the_csrf_token_goes_through(csrf_world):
    client = Client(enforce_csrf_checks=True)
    client.force_login(csrf_world["owner"])
    client.get(reverse("organization_tab", args=["acme"]))  # sets the CSRF cookie

    response = client.post(
        reverse("organization_policies", args=["acme"]),
        {"csrfmiddlewaretoken": client.cookies["csrftoken"].value},
    )

    assert response.status_code == 302
    org = Organization.objects.get(slug="acme")
    assert (org.code_training_opt_out, org.usage_analytics) == (False, False)


# --- invalid roles ------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["owner", "superuser", "", "ADMIN", "member; DROP TABLE x"])
def test_an_invitation_with_an_invalid_role_is_refused(org, personas, role):
    before = snapshot()

    response = client_for(personas["owner"]).post(
        invite_url(org), {"email": "nia@example.com", "role": role}
    )

    assert response.status_code == 400
    assert snapshot() == before


@pytest.mark.parametrize("role", ["god", "", "x" * 1000])
def test_a_role_change_to_an_invalid_role_is_refused(org, personas, role):
    target = Membership.objects.get(user=personas["member"])
    before = snapshot()

    response = client_for(personas["owner"]).post(
        reverse("member_change_role", args=[org.slug, target.public_id]),
        {"role": role},
        follow=True,
    )

    assertContains(response, "Choose Owner, Admin or Member.")
    assert snapshot() == before


# --- invalid time zones, names and slugs --------------------------------------------------------


@pytest.mark.parametrize("time_zone", ["Mars/Olympus_Mons", "", "utc ", "Europe/" + "x" * 500])
def test_an_unknown_time_zone_is_refused(org, personas, time_zone):
    before = snapshot()

    settings_response = client_for(personas["owner"]).post(
        reverse("organization_settings", args=[org.slug]),
        {"name": "Acme Robotics", "time_zone": time_zone, "billing_email": ""},
    )
    create_response = client_for(personas["owner"]).post(
        reverse("organization_create"), {"name": "Hooli", "slug": "", "time_zone": time_zone}
    )

    assert settings_response.status_code == 400
    assert create_response.status_code == 400
    assert snapshot() == before


@pytest.mark.parametrize(
    ("name", "slug", "message"),
    [
        ("n" * 101, "", "at most 100 characters"),
        ("   ", "", "This field is required."),
        ("Hooli", "Not a slug!", "Enter a valid “slug”"),
        ("Hooli", "s" * 51, "at most 50 characters"),
        ("Hooli", "new", "is reserved"),
    ],
    ids=["long-name", "blank-name", "bad-slug", "long-slug", "reserved-slug"],
)
def test_organization_create_refuses_bad_names_and_slugs(org, personas, name, slug, message):
    before = snapshot()

    response = client_for(personas["owner"]).post(
        reverse("organization_create"), {"name": name, "slug": slug, "time_zone": "UTC"}
    )

    assertContains(response, message, status_code=400)
    assert snapshot() == before


def test_renaming_to_an_over_long_name_is_refused(org, personas):
    before = snapshot()

    response = client_for(personas["owner"]).post(
        reverse("organization_settings", args=[org.slug]),
        {"name": "n" * 101, "time_zone": "UTC", "billing_email": ""},
    )

    assertContains(response, "at most 100 characters", status_code=400)
    assert snapshot() == before


# --- ids in URLs and forms ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad_id",
    ["123", "not-a-uuid", "0" * 31, "9f1c2a3e-1b2c-4d5e-8f90-123456789abcx"],
    ids=["sequential", "word", "short-hex", "uuid-plus-one"],
)
@pytest.mark.parametrize(
    "url_name", ["invitation_resend", "invitation_revoke", "member_change_role", "member_remove"]
)
def test_a_non_uuid_id_in_a_url_is_404(org, personas, url_name, bad_id):
    before = snapshot()
    kind = "invitations" if url_name.startswith("invitation") else "members"
    action = {
        "invitation_resend": "resend",
        "invitation_revoke": "revoke",
        "member_change_role": "role",
        "member_remove": "remove",
    }[url_name]

    response = client_for(personas["owner"]).post(
        f"/orgs/{org.slug}/organization/{kind}/{bad_id}/{action}/", {"role": Role.ADMIN}
    )

    assert response.status_code == 404
    assert snapshot() == before


@pytest.mark.parametrize(
    "url_name", ["invitation_resend", "invitation_revoke", "member_change_role", "member_remove"]
)
def test_an_unknown_or_foreign_uuid_changes_nothing(org, other_org, personas, url_name):
    foreign_member = Membership.objects.get(user=personas["outsider"])
    foreign_invitation = invitations.invitation_create(
        actor=actor(personas["outsider"]),
        organization=other_org,
        email="x@example.com",
        role=Role.MEMBER,
    )
    foreign_id = (
        foreign_invitation.public_id
        if url_name.startswith("invitation")
        else foreign_member.public_id
    )
    before = snapshot()

    for object_id in (uuid.uuid4(), foreign_id):
        response = client_for(personas["owner"]).post(
            reverse(url_name, args=[org.slug, object_id]), {"role": Role.MEMBER}, follow=True
        )
        assert response.status_code == 200
        assert response.redirect_chain[-1][0].startswith(reverse("organization_tab", args=["acme"]))
        assertContains(response, "flash__item--error")

    assert snapshot() == before


@pytest.mark.parametrize(
    "new_owner",
    ["", "not-a-uuid", "9f1c2a3e-1b2c-4d5e-8f90-123456789abc", "outsider"],
    ids=["empty", "not-a-uuid", "unknown-uuid", "outsider"],
)
def test_a_transfer_to_a_bad_id_is_refused(org, personas, new_owner):
    if new_owner == "outsider":
        new_owner = str(Membership.objects.get(user=personas["outsider"]).public_id)
    before = snapshot()

    response = client_for(personas["owner"]).post(
        reverse("ownership_transfer", args=[org.slug]), {"new_owner": new_owner, "confirm": "acme"}
    )

    assert response.status_code == 400
    assert snapshot() == before


def test_an_over_long_confirmation_is_refused(org, personas):
    target = Membership.objects.get(user=personas["member"])
    before = snapshot()

    response = client_for(personas["owner"]).post(
        reverse("ownership_transfer", args=[org.slug]),
        {"new_owner": str(target.public_id), "confirm": "acme" + "x" * 60},
    )

    assert response.status_code == 400
    assert snapshot() == before


# --- list parameters ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "shows"),
    [
        ({"q": "x" * 5000}, "3 members"),  # over 100 characters: ignored, not an error
        ({"page": "99999999999999999999999"}, "3 members"),
        ({"page": "abc"}, "3 members"),
        ({"sort": "user__password"}, "3 members"),
        ({"q": "%' OR 1=1 --"}, "No member matches"),
        ({"q": "%"}, "No member matches"),  # a literal percent sign, not a wildcard
    ],
    ids=["long-search", "huge-page", "text-page", "field-injection", "sql-ish", "wildcard"],
)
def test_bad_member_list_parameters_still_render_the_tab(org, personas, params, shows):
    response = client_for(personas["member"]).get(
        reverse("organization_tab", args=[org.slug]), params
    )

    assertContains(response, shows)


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_other_methods_are_not_allowed(org, personas, method):
    before = snapshot()

    response = getattr(client_for(personas["owner"]), method)(
        reverse("organization_settings", args=[org.slug])
    )

    assert response.status_code == 405
    assert snapshot() == before


# --- roles the inviter may not grant -------------------------------------------------------------


def test_the_invite_form_offers_an_admin_only_the_roles_they_may_grant(org, personas):
    admin_page = client_for(personas["admin"]).get(invite_url(org))
    owner_page = client_for(personas["owner"]).get(invite_url(org))

    assertContains(admin_page, '<option value="member" selected>Member</option>', html=True)
    assert 'value="admin"' not in admin_page.content.decode()
    assertContains(owner_page, '<option value="admin">Admin</option>', html=True)


def test_a_forged_admin_role_re_shows_the_form_with_the_error_and_what_was_typed(org, personas):
    before = snapshot()

    response = client_for(personas["admin"]).post(
        invite_url(org), {"email": "typed.by.hand@example.com", "role": Role.ADMIN}
    )

    assertContains(
        response,
        "Only owners can invite admins. Invite them as Member, or ask an owner.",
        status_code=400,
    )
    assertContains(response, 'value="typed.by.hand@example.com"', status_code=400)
    assertContains(response, "Send invitation", status_code=400)
    assert snapshot() == before
