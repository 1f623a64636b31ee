"""Opening an invitation link proves the invited address and nothing else (issue 9, item 7)."""

import re

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.test import Client
from django.urls import reverse

from accounts.models import User
from organizations import invitations
from organizations.models import Membership, Role
from tests.conftest import PASSWORD, actor

pytestmark = pytest.mark.django_db
INVITEE = "invitee@example.test"


@pytest.fixture(autouse=True)
def _eager_tasks():
    from kilo_dashboard.celery import app

    saved = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = saved


@pytest.fixture
def accept_path(org, owner, django_capture_on_commit_callbacks) -> str:
    with django_capture_on_commit_callbacks(execute=True):
        invitations.invitation_create(
            actor=actor(owner), organization=org, email=INVITEE, role=Role.MEMBER
        )
    [message] = mail.outbox
    mail.outbox.clear()
    return re.search(r"https?://[^/\s]+(/invitations/\S+/)", message.body).group(1)


def _signup(client: Client, email: str, next_url: str):  # noqa: ANN202
    return client.post(
        reverse("account_signup"),
        {
            "email": email,
            "name": "Someone",
            "password1": PASSWORD,
            "password2": PASSWORD,
            "next": next_url,
        },
    )


def test_signing_up_as_another_address_after_opening_the_link_verifies_nothing(accept_path):
    stranger = Client()
    assert stranger.get(accept_path).status_code == 200
    response = _signup(stranger, "stranger@evil.test", accept_path)

    assert response["Location"] == reverse("account_email_verification_sent")
    user = User.objects.get(email="stranger@evil.test")
    addresses = list(EmailAddress.objects.filter(user=user).values_list("email", "verified"))
    assert addresses == [("stranger@evil.test", False)]
    assert not EmailAddress.objects.filter(email__iexact=INVITEE).exists()
    assert [m.to for m in mail.outbox] == [["stranger@evil.test"]]


def test_the_real_invitee_can_still_sign_up_from_the_link_and_accept(accept_path, org):
    _signup(Client(), "stranger@evil.test", accept_path)  # having opened it in another browser
    mail.outbox.clear()

    invitee = Client()
    invitee.get(accept_path)
    response = _signup(invitee, INVITEE, accept_path)

    assert response.status_code == 302 and response["Location"] == accept_path
    assert mail.outbox == []  # the link proved this address: no second verification email
    assert EmailAddress.objects.get(email=INVITEE).verified
    assert invitee.post(accept_path).status_code == 302
    assert Membership.objects.filter(organization=org, user__email=INVITEE).exists()


def test_the_stranger_cannot_accept_even_after_verifying_their_own_address(accept_path, org):
    stranger = Client()
    stranger.get(accept_path)
    _signup(stranger, "stranger@evil.test", accept_path)
    EmailAddress.objects.filter(email="stranger@evil.test").update(verified=True)
    stranger.force_login(User.objects.get(email="stranger@evil.test"))

    response = stranger.post(accept_path)

    assert response.status_code == 400
    assert "This invitation is for invitee@example.test" in response.content.decode()
    assert not Membership.objects.filter(
        organization=org, user__email="stranger@evil.test"
    ).exists()
