"""Events recorded by the audit app itself: sign-ins, failed sign-ins, sign-outs, exports and
downloads, and who the actor is when no user acts (API key, Stripe, a system task)."""

from datetime import timedelta

import pytest
import time_machine
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from audit.context import acting_as
from audit.models import AuditEvent
from audit.services import Actor, audit_record
from organizations.models import Invitation, InvitationStatus, Membership, Role
from tests.billing.access_table import _document
from tests.conftest import PASSWORD, actor, client_for

BROWSER = {"REMOTE_ADDR": "198.51.100.23", "HTTP_USER_AGENT": "Mozilla/5.0 (X11) Firefox/130"}


def _sign_in(client, email, password):
    return client.post(reverse("account_login"), {"login": email, "password": password}, **BROWSER)


@pytest.mark.django_db
def test_a_sign_in_is_recorded_in_each_organization_of_the_member(org, owner, other_org):
    Membership.objects.create(organization=other_org, user=owner, role=Role.MEMBER)
    client = client_for(None)

    response = _sign_in(client, owner.email, PASSWORD)

    assert response.status_code == 302
    events = AuditEvent.objects.filter(action="auth.signed_in").order_by("organization__slug")
    assert [e.organization.slug for e in events] == ["acme", "initech"]
    for event in events:
        assert event.actor == owner
        assert event.actor_type == "user"
        assert event.ip_address == "198.51.100.23"
        assert event.user_agent == "Mozilla/5.0 (X11) Firefox/130"
        assert event.target_label == owner.email


@pytest.mark.django_db
def test_a_failed_sign_in_names_the_attempted_address_but_no_acting_user(org, owner):
    response = _sign_in(client_for(None), "Owner@Acme.test", "wrong password")

    assert response.status_code == 200  # the form again, with an error
    event = AuditEvent.objects.get(action="auth.sign_in_failed")
    assert event.organization == org
    assert event.actor is None
    assert event.actor_type == "user"
    assert event.actor_label == "owner@acme.test"
    assert event.ip_address == "198.51.100.23"
    assert "wrong password" not in str(event.after) + str(event.before)
    assert not AuditEvent.objects.filter(action="auth.signed_in").exists()


@pytest.mark.django_db
def test_a_failed_sign_in_for_an_unknown_address_belongs_to_no_organization(org, owner):
    _sign_in(client_for(None), "nobody@nowhere.test", "guess")

    event = AuditEvent.objects.get(action="auth.sign_in_failed")
    assert event.organization is None
    assert event.sequence is None  # outside every organization's chain
    assert event.target_label == "nobody@nowhere.test"


@pytest.mark.django_db
def test_a_sign_out_is_recorded(org, member):
    client = client_for(None)
    _sign_in(client, member.email, PASSWORD)

    response = client.post(reverse("account_logout"), **BROWSER)

    assert response.status_code == 302
    event = AuditEvent.objects.get(action="auth.signed_out")
    assert (event.organization, event.actor, event.ip_address) == (org, member, "198.51.100.23")


@pytest.mark.django_db
def test_the_usage_export_is_audited_with_its_filters(org, admin):
    url = reverse("usage_export", args=[org.slug]) + "?range=7d&model=claude"

    response = client_for(admin).get(url, **BROWSER)

    assert response.status_code == 200
    b"".join(response.streaming_content)
    event = AuditEvent.objects.get(action="export.usage_csv")
    assert (event.organization, event.actor) == (org, admin)
    assert event.after == {"filters": {"range": "7d", "model": "claude"}}
    assert event.ip_address == "198.51.100.23"


@pytest.mark.django_db
def test_the_credit_history_export_is_audited(org, owner):
    response = client_for(owner).get(reverse("billing_history_csv", args=[org.slug]), **BROWSER)

    assert response.status_code == 200
    event = AuditEvent.objects.get(action="export.billing_history_csv")
    assert (event.organization, event.actor) == (org, owner)


@pytest.mark.django_db
def test_a_document_download_is_audited_with_the_document_as_target(org, admin):
    document = _document(org)
    url = reverse("billing_document_download", args=[org.slug, document.public_id])

    response = client_for(admin).get(url, **BROWSER)

    assert response.status_code == 200
    event = AuditEvent.objects.get(action="document.downloaded")
    assert event.target_type == "document"
    assert event.target_id == str(document.public_id)
    assert event.target_label == "Monthly statement ACME-S00001"


@pytest.mark.django_db
def test_a_missing_document_is_404_and_not_audited(org, admin):
    url = reverse(
        "billing_document_download", args=[org.slug, "6f1f1a1e-0000-4000-8000-000000000000"]
    )
    assert client_for(admin).get(url).status_code == 404
    assert not AuditEvent.objects.filter(action="document.downloaded").exists()


@pytest.mark.django_db
def test_an_api_key_actor_is_recorded_with_its_name(org):
    with transaction.atomic():
        event = audit_record(
            actor=Actor.api_key("CI gateway", ip_address="203.0.113.9", user_agent="gw/1"),
            action="usage.ingest_key.revoke",
            organization=org,
        )
    event.refresh_from_db()
    assert (event.actor_type, event.actor_label, event.ip_address) == (
        "api_key",
        "CI gateway",
        "203.0.113.9",
    )


@pytest.mark.django_db
def test_system_work_inside_a_stripe_event_is_recorded_as_done_by_stripe(org):
    with transaction.atomic(), acting_as("stripe", "Stripe event evt_123 (charge.refunded)"):
        event = audit_record(
            actor=Actor.system(), action="billing.refund_recorded", organization=org
        )
    assert (event.actor_type, event.actor_label) == (
        "stripe",
        "Stripe event evt_123 (charge.refunded)",
    )
    with transaction.atomic():
        plain = audit_record(
            actor=Actor.system(), action="billing.refund_recorded", organization=org
        )
    assert (plain.actor_type, plain.actor_label) == ("system", "")


@pytest.mark.django_db
def test_a_celery_task_is_the_actor_of_what_it_records(org, owner):
    from organizations.tasks import expire_invitations

    invitation = Invitation.objects.create(
        organization=org,
        email="late@example.com",
        invited_by=owner,
        token_hash="a" * 64,
        sent_at=timezone.now() - timedelta(days=10),
        expires_at=timezone.now() - timedelta(days=3),
    )
    with time_machine.travel(timezone.now(), tick=False):
        expire_invitations.apply()

    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.EXPIRED
    event = AuditEvent.objects.get(action="invitation.expired")
    assert (event.actor_type, event.actor_label) == (
        "system",
        "task organizations.tasks.expire_invitations",
    )


@pytest.mark.django_db
def test_a_user_actor_is_never_relabelled_by_the_ambient_context(org, owner):
    with transaction.atomic(), acting_as("stripe", "Stripe event evt_9"):
        event = audit_record(actor=actor(owner), action="member.removed", organization=org)
    assert (event.actor_type, event.actor_label) == ("user", "")
