"""Organization names are one line, and invitation emails go out after commit from a Celery task
with retries: a mail failure never answers 500 nor loses the invitation (issue 9, item 8)."""

from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from organizations import invitations, services
from organizations.models import Invitation, InvitationStatus, Organization
from tests.conftest import actor, client_for, make_user

HEADER_INJECTION = "Org line1\r\nBcc: victim@evil.test"


@pytest.fixture
def eager_tasks():
    from kilo_dashboard.celery import app

    saved = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = saved


@pytest.mark.django_db
@pytest.mark.parametrize(
    "name", [HEADER_INJECTION, "Acme\nBcc: x@evil.test", "Acme\x00", "A\u2028B"]
)
def test_creating_an_organization_with_a_control_character_is_refused(name):
    founder = make_user("founder@example.test")
    response = client_for(founder).post(
        reverse("organization_create"), {"name": name, "slug": "", "time_zone": "UTC"}
    )
    assert response.status_code == 400
    assert "must be one line of text" in response.content.decode()
    assert not Organization.objects.exclude(slug="acme").exists()


@pytest.mark.django_db
def test_renaming_an_organization_with_a_line_break_is_refused(org, owner):
    response = client_for(owner).post(
        reverse("organization_settings", args=[org.slug]),
        {"name": HEADER_INJECTION, "time_zone": "UTC", "billing_email": ""},
    )
    assert response.status_code == 400
    org.refresh_from_db()
    assert org.name == "Acme Robotics"


@pytest.mark.django_db
def test_the_services_refuse_it_too(org, owner):
    with pytest.raises(services.ServiceError, match="one line"):
        services.organization_update_settings(
            actor=actor(owner),
            organization=org,
            name=HEADER_INJECTION,
            time_zone="UTC",
            billing_email="",
        )


@pytest.mark.django_db
def test_a_full_name_with_a_line_break_is_refused_at_sign_up(client):
    response = client.post(
        reverse("account_signup"),
        {
            "email": "nadia@example.test",
            "name": "Nadia\r\nBcc: victim@evil.test",
            "password1": "correct-horse-battery-staple",
            "password2": "correct-horse-battery-staple",
        },
    )
    assert response.status_code == 200
    assert "must be one line of text" in response.content.decode()


@pytest.mark.django_db
def test_a_name_stored_before_the_rule_still_gets_its_invitations_out_on_one_line(
    org, owner, eager_tasks, django_capture_on_commit_callbacks
):
    Organization.objects.filter(pk=org.pk).update(name=HEADER_INJECTION)
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(owner).post(
            reverse("invitation_create", args=[org.slug]),
            {"email": "new@example.test", "role": "member"},
        )
    assert response.status_code == 302
    [message] = mail.outbox
    assert message.to == ["new@example.test"] and message.bcc == []
    assert message.subject == (
        "Olivia Owens invited you to Org line1 Bcc: victim@evil.test on Kilo Teams"
    )
    headers = message.message()
    assert headers["Bcc"] is None and "\n" not in headers["Subject"]


@pytest.mark.django_db
def test_a_mail_server_that_is_down_leaves_a_committed_invitation_and_no_500(
    org, owner, eager_tasks, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "tests.security.mail_backends.AlwaysDown"
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(owner).post(
            reverse("invitation_create", args=[org.slug]),
            {"email": "new@example.test", "role": "member"},
        )
    assert response.status_code == 302
    invitation = Invitation.objects.get(email="new@example.test")
    assert invitation.status == InvitationStatus.PENDING
    assert mail.outbox == []


@pytest.mark.django_db
def test_the_task_sends_nothing_for_an_invitation_no_longer_pending(org, owner, eager_tasks):
    from organizations.tasks import send_invitation_email

    invitation = invitations.invitation_create(
        actor=actor(owner), organization=org, email="new@example.test", role="member"
    )
    Invitation.objects.filter(pk=invitation.pk).update(status=InvitationStatus.REVOKED)
    assert send_invitation_email.delay(invitation.pk).get() is False
    Invitation.objects.filter(pk=invitation.pk).update(
        status=InvitationStatus.PENDING, expires_at=timezone.now() - timedelta(minutes=1)
    )
    assert send_invitation_email.delay(invitation.pk).get() is False
    assert mail.outbox == []


@pytest.fixture
def flaky_mail_file(tmp_path, monkeypatch):
    # Set before the worker starts (it inherits this process's environment).
    target = tmp_path / "sent.eml"
    monkeypatch.setenv("FLAKY_MAIL_FILE", str(target))
    monkeypatch.setenv("EMAIL_BACKEND", "tests.security.mail_backends.DownOnceThenFile")
    return target


def test_a_real_worker_retries_the_invitation_email_after_a_mail_failure(
    flaky_mail_file, celery_worker, org, owner
):
    from celery.signals import after_task_publish

    published: list[str] = []

    def remember(sender=None, headers=None, **kwargs) -> None:  # noqa: ANN001
        if sender == "organizations.tasks.send_invitation_email":
            published.append(headers["id"])

    after_task_publish.connect(remember, weak=False)
    try:
        response = client_for(owner).post(
            reverse("invitation_create", args=[org.slug]),
            {"email": "new@example.test", "role": "member"},
        )
    finally:
        after_task_publish.disconnect(remember)
    assert response.status_code == 302
    assert Invitation.objects.get(email="new@example.test").status == InvitationStatus.PENDING
    # The task, enqueued once: its first attempt failed, its retry (same id) delivered.
    [task_id] = published
    assert celery_worker.AsyncResult(task_id).get(timeout=60) is True
    assert flaky_mail_file.with_suffix(".attempts").read_text() == "2"
    assert "To: new@example.test" in flaky_mail_file.read_text()
