"""The Account page: name (audited), email addresses, two-factor authentication, sessions, all
in our layout; allauth's management pages share its navigation."""

from datetime import timedelta

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.usersessions.models import UserSession
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains

from audit.models import AuditEvent
from tests.conftest import PASSWORD, client_for

pytestmark = pytest.mark.django_db


def _logged_in(user, agent: str) -> Client:  # noqa: ANN001
    """Sign in through the login form, so allauth records the session as a real sign-in does."""
    client = Client(HTTP_USER_AGENT=agent)
    response = client.post(
        reverse("account_login"), {"login": user.email, "password": PASSWORD}, follow=True
    )
    assert response.status_code == 200
    return client


def test_the_header_links_to_the_account_page(owner, org):
    html = client_for(owner).get(reverse("organization_tab", args=[org.slug])).content.decode()
    assert f'href="{reverse("account_profile")}">Account</a>' in html


def test_the_page_shows_name_emails_mfa_and_sessions(owner):
    EmailAddress.objects.update_or_create(
        user=owner, email=owner.email, defaults={"verified": True, "primary": True}
    )
    EmailAddress.objects.create(user=owner, email="olivia@home.test", verified=False)
    laptop = _logged_in(owner, "Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0 Laptop")
    _logged_in(owner, "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0) Mobile Safari Phone")

    response = laptop.get(reverse("account_profile"))

    assertContains(response, 'value="Olivia Owens"')
    html = response.content.decode()
    assert "owner@acme.test" in html and "olivia@home.test" in html and "Unverified" in html
    assert reverse("account_email") in html
    assertContains(response, 'Off · <a href="/accounts/2fa/totp/activate/">')
    sessions = html.split('data-testid="sessions"')[1]
    assert "Laptop" in sessions and "Phone" in sessions
    assert sessions.count("This session") == 1
    assert reverse("usersessions_list") in html


def test_totp_shows_as_on_with_the_recovery_codes_left(owner):
    Authenticator.objects.create(user=owner, type=Authenticator.Type.TOTP, data={"secret": "x"})
    RecoveryCodes.activate(owner)
    response = client_for(owner).get(reverse("account_profile"))
    assertContains(response, "On since")
    assertContains(response, "10 unused")


def test_renaming_is_audited_and_control_characters_are_refused(owner):
    client = client_for(owner)
    response = client.post(reverse("account_profile"), {"name": "  Olivia   O'Brien "})
    assert response.status_code == 302
    owner.refresh_from_db()
    assert owner.name == "Olivia O'Brien"
    event = AuditEvent.objects.get(action="account.name_changed")
    assert (event.before, event.after, event.actor) == (
        {"name": "Olivia Owens"},
        {"name": "Olivia O'Brien"},
        owner,
    )
    response = client.post(reverse("account_profile"), {"name": "Eve\r\nBcc: x@evil.test"})
    assert response.status_code == 400
    assertContains(response, "cannot contain control characters", status_code=400)
    owner.refresh_from_db()
    assert owner.name == "Olivia O'Brien"


@pytest.mark.parametrize(
    "url_name", ["account_email", "account_change_password", "mfa_index", "usersessions_list"]
)
def test_allauths_management_pages_render_in_our_layout_with_the_account_nav(owner, url_name):
    response = client_for(owner).get(reverse(url_name))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'class="subnav"' in html and 'class="topbar"' in html  # our shell, our nav
    assert 'aria-current="page"' in html.split('class="subnav"')[1].split("</nav>")[0]
    assert "Kilo Teams" in html


def test_anonymous_visitors_are_sent_to_log_in():
    response = Client().get(reverse("account_profile"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_last_seen_is_written_at_most_every_five_minutes(owner, time_machine):
    time_machine.move_to(timezone.now(), tick=False)
    client = _logged_in(owner, "Mozilla/5.0 Laptop")
    [session] = UserSession.objects.filter(user=owner)
    signed_in = session.last_seen_at

    time_machine.shift(timedelta(minutes=4))
    client.get(reverse("account_profile"))
    session.refresh_from_db()
    assert session.last_seen_at == signed_in  # no write within the five minutes

    time_machine.shift(timedelta(minutes=2))
    client.get(reverse("account_profile"))
    session.refresh_from_db()
    assert session.last_seen_at == signed_in + timedelta(minutes=6)
