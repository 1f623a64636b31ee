"""The staff admin signs in through allauth (rate limits, MFA) and opens only to staff with an
authenticator (issue 9, item 2)."""

import time

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, generate_totp_secret, hotp_value
from django.test import Client

from accounts.models import User
from tests.conftest import PASSWORD, client_for, make_user

pytestmark = pytest.mark.django_db
ALLAUTH_LOGIN = "/accounts/login/"


@pytest.fixture
def superuser() -> User:
    user = User.objects.create_superuser(email="root@kilo.test", password=PASSWORD)
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    return user


def _totp(user: User) -> str:
    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    return secret


def _code(secret: str) -> str:
    return format_hotp_value(hotp_value(secret, int(time.time()) // 30))


def _logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def test_the_admin_login_page_sends_everyone_to_the_allauth_sign_in():
    response = Client().get("/admin/login/?next=/admin/billing/")
    assert response.status_code == 302
    assert response["Location"] == f"{ALLAUTH_LOGIN}?next=%2Fadmin%2Fbilling%2F"


def test_twenty_wrong_passwords_then_the_right_one_at_the_admin_login_sign_nobody_in(superuser):
    client = Client()
    for attempt in range(20):
        client.post("/admin/login/", {"username": superuser.email, "password": f"wrong-{attempt}"})
    response = client.post("/admin/login/", {"username": superuser.email, "password": PASSWORD})
    assert response.status_code == 302 and response["Location"].startswith(ALLAUTH_LOGIN)
    assert not _logged_in(client)


def test_the_allauth_sign_in_locks_the_account_after_five_failures(superuser):
    client = Client()
    for attempt in range(5):
        client.post(ALLAUTH_LOGIN, {"login": superuser.email, "password": f"wrong-{attempt}"})
    response = client.post(ALLAUTH_LOGIN, {"login": superuser.email, "password": PASSWORD})
    assert not _logged_in(client)
    assert "Too many failed login attempts" in response.content.decode()


def test_staff_with_an_authenticator_pass_the_code_step_then_reach_the_admin(superuser):
    secret = _totp(superuser)
    client = Client()
    response = client.post(
        ALLAUTH_LOGIN, {"login": superuser.email, "password": PASSWORD, "next": "/admin/"}
    )
    assert response.status_code == 302 and response["Location"] == "/accounts/2fa/authenticate/"
    assert not _logged_in(client)  # the password alone is not enough

    response = client.post("/accounts/2fa/authenticate/", {"code": _code(secret)})
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_staff_without_an_authenticator_are_sent_to_set_one_up(superuser):
    client = client_for(superuser)
    response = client.get("/admin/", follow=True)
    hops = [url for url, _ in response.redirect_chain]
    assert hops[:2] == ["/admin/login/?next=/admin/", "/accounts/2fa/totp/activate/"]
    assert "Set up two-factor authentication before opening the staff admin." in (
        response.content.decode()
    )
    assert client.get("/admin/billing/promotioncode/").status_code == 302


def test_signed_in_customers_get_403_at_the_admin_login(db):
    customer = make_user("customer@example.test")
    assert client_for(customer).get("/admin/login/").status_code == 403
