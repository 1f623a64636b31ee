"""Sign-up, verification, login, logout, password change and reset, rate limits, through HTTP.

Every flow goes through allauth's real views and our templates; emails are read from
pytest-django's mailoutbox, and rate limits live in the real Redis cache (tests/conftest.py gives
each xdist worker its own Redis database).
"""

import re

import pytest
import redis
from allauth.account.models import EmailAddress
from django.conf import settings
from django.core import mail
from django.test import Client
from django.urls import reverse

from accounts.models import User
from organizations import invitations
from organizations.models import Membership, Organization, Role
from tests.conftest import PASSWORD, actor, make_user

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-brand-new-passphrase-42"
LOGIN_URL = reverse("account_login")
SIGNUP_URL = reverse("account_signup")
VERIFICATION_SENT_URL = reverse("account_email_verification_sent")


def _link(message: mail.EmailMessage, path_prefix: str) -> str:
    """The one absolute link under `path_prefix` in the plain-text body, returned as a path."""
    links = re.findall(rf"https?://[^/\s]+({re.escape(path_prefix)}\S*)", message.body)
    assert len(set(links)) == 1, message.body
    return links[0]


def _html_body(message: mail.EmailMultiAlternatives) -> str:
    html = [content for content, mimetype in message.alternatives if mimetype == "text/html"]
    assert len(html) == 1, "every allauth email carries an HTML alternative"
    return html[0]


def _signup(client: Client, email: str, *, name: str = "Nadia New", next_url: str = ""):
    data = {"email": email, "name": name, "password1": PASSWORD, "password2": PASSWORD}
    if next_url:
        data["next"] = next_url
    return client.post(SIGNUP_URL, data)


def _login(client: Client, email: str, password: str = PASSWORD):
    return client.post(LOGIN_URL, {"login": email, "password": password})


def _is_logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


# --- sign-up and verification -------------------------------------------------------------------


def test_signup_sends_a_verification_email_with_text_and_html_bodies(client, mailoutbox):
    response = _signup(client, "Nadia@Example.test")

    assert response.status_code == 302
    assert response["Location"] == VERIFICATION_SENT_URL
    user = User.objects.get(email="nadia@example.test")
    assert user.name == "Nadia New"
    assert not EmailAddress.objects.get(user=user).verified
    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == ["nadia@example.test"]
    assert message.subject == "[Kilo] Confirm your email to finish signing up"
    assert message.body.startswith("Hello Nadia New,")
    link = _link(message, "/accounts/confirm-email/")
    html = _html_body(message)
    assert link in html
    assert "Confirm my email address" in html
    assert "<!DOCTYPE html>" in html
    # allauth's stock text says "Hello from <domain>!": ours names the product instead.
    assert "Hello from" not in message.body
    assert "Kilo Teams" in message.body


def test_an_unverified_user_cannot_log_in(client, mailoutbox):
    _signup(client, "nadia@example.test")

    browser = Client()
    response = _login(browser, "nadia@example.test")

    assert response.status_code == 302
    assert response["Location"] == VERIFICATION_SENT_URL
    assert not _is_logged_in(browser)
    assert browser.get(reverse("home"))["Location"].startswith(LOGIN_URL)


def test_the_confirmation_link_verifies_logs_in_and_lands_on_create_organization(
    client, mailoutbox
):
    _signup(client, "nadia@example.test")
    confirm_path = _link(mailoutbox[0], "/accounts/confirm-email/")

    page = client.get(confirm_path)
    assert page.status_code == 200
    assert b"nadia@example.test" in page.content
    assert not EmailAddress.objects.get(email="nadia@example.test").verified  # GET changes nothing

    response = client.post(confirm_path, follow=True)

    assert EmailAddress.objects.get(email="nadia@example.test").verified
    assert _is_logged_in(client)
    assert response.redirect_chain[-1][0] == reverse("organization_create")
    assert response.status_code == 200
    assert b"Create an organization" in response.content


def test_after_verifying_the_user_can_log_in_from_another_browser(client, mailoutbox):
    _signup(client, "nadia@example.test")
    client.post(_link(mailoutbox[0], "/accounts/confirm-email/"))

    browser = Client()
    response = _login(browser, "nadia@example.test")

    assert response.status_code == 302
    assert _is_logged_in(browser)


def test_a_forged_confirmation_key_verifies_nothing(client, mailoutbox):
    _signup(client, "nadia@example.test")

    response = client.post(reverse("account_confirm_email", args=["forged-key"]))

    assert response.status_code == 404
    assert not EmailAddress.objects.get(email="nadia@example.test").verified
    assert not _is_logged_in(client)


def test_adding_an_address_sends_the_non_signup_confirmation_email(client, owner, mailoutbox):
    client.force_login(owner)

    response = client.post(
        reverse("account_email"), {"action_add": "", "email": "olivia@personal.test"}
    )

    assert response.status_code == 302
    assert not EmailAddress.objects.get(email="olivia@personal.test").verified
    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == ["olivia@personal.test"]
    assert message.subject == "[Kilo] Confirm your email address"
    assert "your account is owner@acme.test" in message.body
    confirm_path = _link(message, "/accounts/confirm-email/")
    assert confirm_path in _html_body(message)

    client.post(confirm_path)

    assert EmailAddress.objects.get(email="olivia@personal.test").verified


def test_signing_up_with_a_taken_address_emails_its_owner_instead(client, mailoutbox, owner):
    response = _signup(client, "owner@acme.test")

    # Same answer as for a new address, so that sign-up does not reveal who has an account.
    assert response.status_code == 302
    assert response["Location"] == VERIFICATION_SENT_URL
    assert User.objects.filter(email="owner@acme.test").count() == 1
    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.subject == "[Kilo] You already have a Kilo Teams account"
    assert _link(message, "/accounts/password/reset/") in _html_body(message)


# --- where a login lands ------------------------------------------------------------------------


def test_login_with_one_organization_lands_on_its_organization_tab(client, owner, org):
    response = _login(client, "owner@acme.test")
    assert response.status_code == 302

    landing = client.get(response["Location"])

    assert landing.status_code == 302
    assert landing["Location"] == reverse("organization_tab", args=[org.slug])


def test_login_with_several_organizations_lands_on_the_chooser(client, owner, other_org):
    Membership.objects.create(organization=other_org, user=owner, role=Role.MEMBER)

    response = client.post(
        LOGIN_URL, {"login": "owner@acme.test", "password": PASSWORD}, follow=True
    )

    assert response.redirect_chain[-1][0] == reverse("organization_chooser")
    assert b"Acme Robotics" in response.content
    assert b"Initech" in response.content


def test_login_without_an_organization_lands_on_create_organization(client):
    make_user("solo@example.test")

    response = client.post(
        LOGIN_URL, {"login": "solo@example.test", "password": PASSWORD}, follow=True
    )

    assert response.redirect_chain[-1][0] == reverse("organization_create")


def test_login_honours_a_safe_next_url_and_ignores_a_foreign_one(client, owner, org):
    tab = reverse("organization_tab", args=[org.slug]) + "?q=olivia"
    response = client.post(
        LOGIN_URL, {"login": "owner@acme.test", "password": PASSWORD, "next": tab}
    )
    assert response["Location"] == tab

    other = Client()
    response = other.post(
        LOGIN_URL,
        {"login": "owner@acme.test", "password": PASSWORD, "next": "https://evil.example/"},
    )
    assert response["Location"] == reverse("home")


def test_a_wrong_password_is_refused_with_a_message(client, owner):
    response = _login(client, "owner@acme.test", "not-the-password")

    assert response.status_code == 200
    assert not _is_logged_in(client)
    assert b"form-error" in response.content
    assert b"not correct" in response.content


# --- logout -------------------------------------------------------------------------------------


def test_logout_by_post_ends_the_session(client, owner):
    _login(client, "owner@acme.test")
    assert _is_logged_in(client)

    response = client.post(reverse("account_logout"))

    assert response.status_code == 302
    assert response["Location"] == LOGIN_URL
    assert not _is_logged_in(client)
    assert client.get(reverse("home"))["Location"].startswith(LOGIN_URL)


def test_logout_by_get_only_asks_for_confirmation(client, owner):
    # A link or an <img> must not be able to sign anyone out.
    _login(client, "owner@acme.test")

    response = client.get(reverse("account_logout"))

    assert response.status_code == 200
    assert _is_logged_in(client)


# --- password change ----------------------------------------------------------------------------


def test_password_change_needs_the_current_password(client, owner):
    client.force_login(owner)

    response = client.post(
        reverse("account_change_password"),
        {"oldpassword": "wrong", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )

    assert response.status_code == 200
    owner.refresh_from_db()
    assert owner.check_password(PASSWORD)


def test_password_change_keeps_the_session_and_replaces_the_password(client, owner):
    client.force_login(owner)

    response = client.post(
        reverse("account_change_password"),
        {"oldpassword": PASSWORD, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )

    assert response.status_code == 302
    assert _is_logged_in(client)
    owner.refresh_from_db()
    assert owner.check_password(NEW_PASSWORD)
    assert not _is_logged_in(_client_after_login("owner@acme.test", PASSWORD))
    assert _is_logged_in(_client_after_login("owner@acme.test", NEW_PASSWORD))


def _client_after_login(email: str, password: str) -> Client:
    browser = Client()
    _login(browser, email, password)
    return browser


# --- password reset -----------------------------------------------------------------------------


def test_password_reset_by_email_end_to_end(client, owner, mailoutbox):
    response = client.post(reverse("account_reset_password"), {"email": "OWNER@acme.test"})
    assert response.status_code == 302
    assert response["Location"] == reverse("account_reset_password_done")

    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == ["owner@acme.test"]
    assert message.subject == "[Kilo] Reset your password"
    assert message.body.startswith("Hello Olivia Owens,")
    key_path = _link(message, "/accounts/password/reset/key/")
    assert key_path in _html_body(message)

    # allauth moves the key out of the URL into the session before showing the form.
    form_page = client.get(key_path, follow=True)
    assert form_page.status_code == 200
    set_password_path = form_page.redirect_chain[-1][0]
    response = client.post(
        set_password_path, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("account_reset_password_from_key_done")

    owner.refresh_from_db()
    assert owner.check_password(NEW_PASSWORD)
    assert not _is_logged_in(client)  # ACCOUNT_LOGIN_ON_PASSWORD_RESET is off
    assert _is_logged_in(_client_after_login("owner@acme.test", NEW_PASSWORD))
    assert not _is_logged_in(_client_after_login("owner@acme.test", PASSWORD))

    # The link works once.
    reused = Client().get(key_path, follow=True)
    assert b"Bad Token" in reused.content


def test_password_reset_for_an_unknown_address_says_so_by_email_only(client, mailoutbox):
    response = client.post(reverse("account_reset_password"), {"email": "nobody@example.test"})

    # Same page as for a real account: the form does not reveal who has one.
    assert response.status_code == 302
    assert response["Location"] == reverse("account_reset_password_done")
    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.subject == "[Kilo] No Kilo Teams account for this address"
    assert _link(message, "/accounts/signup/") in _html_body(message)


# --- rate limits on the real cache --------------------------------------------------------------


def test_too_many_failed_logins_are_refused_and_counted_in_redis(client, owner):
    assert settings.CACHES["default"]["BACKEND"].endswith("RedisCache")
    # "5/5m/key": five failures for one address, then even the right password is refused.
    for _ in range(5):
        response = _login(client, "owner@acme.test", "not-the-password")
        assert response.status_code == 200
        assert b"Too many failed login attempts" not in response.content

    response = _login(client, "owner@acme.test")

    assert b"Too many failed login attempts" in response.content
    assert not _is_logged_in(client)
    store = redis.Redis.from_url(settings.CACHES["default"]["LOCATION"])
    assert store.keys("*allauth:rl:*:login_failed:*/key:*"), "the counter lives in Redis"

    # Another address from the same client is not locked out by this one.
    make_user("colleague@acme.test")
    assert _is_logged_in(_client_after_login("colleague@acme.test", PASSWORD))


# --- organizations need a verified email --------------------------------------------------------


def test_creating_an_organization_requires_a_verified_email(client):
    user = make_user("unverified@example.test", verified=False)
    client.force_login(user)

    page = client.get(reverse("organization_create"))
    assert b"Verify your email address first" in page.content

    response = client.post(
        reverse("organization_create"), {"name": "Sneaky", "slug": "sneaky", "time_zone": "UTC"}
    )

    assert response.status_code == 400
    assert not Organization.objects.filter(slug="sneaky").exists()
    assert not Membership.objects.filter(user=user).exists()


def test_a_verified_user_creates_an_organization_and_owns_it(client):
    user = make_user("founder@example.test")
    client.force_login(user)

    response = client.post(
        reverse("organization_create"), {"name": "Hooli", "slug": "", "time_zone": "UTC"}
    )

    organization = Organization.objects.get(name="Hooli")
    assert response.status_code == 302
    assert response["Location"] == reverse("organization_tab", args=[organization.slug])
    assert Membership.objects.get(organization=organization, user=user).role == Role.OWNER


# --- signing up from an invitation --------------------------------------------------------------


def _invite(org, inviter, email: str, django_capture_on_commit_callbacks, mailoutbox) -> str:
    """Invite `email` and return the path of the emailed link (the email is sent on commit)."""
    with django_capture_on_commit_callbacks(execute=True):
        invitations.invitation_create(
            actor=actor(inviter), organization=org, email=email, role=Role.MEMBER
        )
    message = mailoutbox[-1]
    assert message.to == [email]
    return _link(message, "/invitations/")


def test_signing_up_from_an_invitation_skips_the_second_verification_and_accepts(
    client, org, owner, mailoutbox, django_capture_on_commit_callbacks
):
    accept_path = _invite(
        org, owner, "invitee@example.test", django_capture_on_commit_callbacks, mailoutbox
    )
    mailoutbox.clear()

    landing = client.get(accept_path)
    assert landing.status_code == 200
    assert b"Create an account" in landing.content

    response = _signup(client, "invitee@example.test", next_url=accept_path)

    # Following the emailed link proved control of the address: no second email, logged in.
    assert response.status_code == 302
    assert response["Location"] == accept_path
    assert mailoutbox == []
    assert _is_logged_in(client)
    address = EmailAddress.objects.get(email="invitee@example.test")
    assert address.verified and address.primary

    response = client.post(accept_path)

    assert response.status_code == 302
    assert response["Location"] == reverse("organization_tab", args=[org.slug])
    membership = Membership.objects.get(organization=org, user__email="invitee@example.test")
    assert membership.role == Role.MEMBER


def test_signing_up_without_opening_the_invitation_link_still_needs_verification(
    client, org, owner, mailoutbox, django_capture_on_commit_callbacks
):
    # Without the invitation link in this session, a sign-up with the invited address is an
    # ordinary one: the address must be verified before the invitation can be accepted.
    accept_path = _invite(
        org, owner, "invitee@example.test", django_capture_on_commit_callbacks, mailoutbox
    )
    mailoutbox.clear()

    response = _signup(client, "invitee@example.test", next_url=accept_path)

    assert response["Location"] == VERIFICATION_SENT_URL
    assert not _is_logged_in(client)
    assert not EmailAddress.objects.get(email="invitee@example.test").verified
    assert len(mailoutbox) == 1
    assert not Membership.objects.filter(user__email="invitee@example.test").exists()
