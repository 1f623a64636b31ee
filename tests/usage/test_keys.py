"""Ingest keys: shown once, stored hashed, named, revocable, audited; the command prints one."""

import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from audit.models import AuditEvent
from tests.conftest import actor, client_for
from usage.models import IngestKey
from usage.selectors import ingest_key_for_secret
from usage.services import hash_key, ingest_key_create, ingest_key_revoke

pytestmark = pytest.mark.django_db


def test_a_key_is_stored_hashed_and_found_by_its_secret(org, owner):
    key, secret = ingest_key_create(actor=actor(owner), organization=org, name="Gateway")
    assert secret.startswith("kilo_ik_") and len(secret) > 40
    assert key.key_hash == hash_key(secret) and secret not in key.key_hash
    assert key.prefix == secret[:14]
    assert ingest_key_for_secret(secret) == key
    assert (
        AuditEvent.objects.filter(action="usage.ingest_key.create", organization=org).count() == 1
    )


def test_a_member_may_not_create_keys_even_through_the_service(org, member):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        ingest_key_create(actor=actor(member), organization=org, name="Sneaky")
    assert not IngestKey.objects.exists()


def test_revoking_is_audited_once_and_disables_the_key(org, owner):
    key, secret = ingest_key_create(actor=actor(owner), organization=org, name="Gateway")
    ingest_key_revoke(actor=actor(owner), organization=org, public_id=key.public_id)
    ingest_key_revoke(actor=actor(owner), organization=org, public_id=key.public_id)
    assert ingest_key_for_secret(secret) is None
    assert AuditEvent.objects.filter(action="usage.ingest_key.revoke").count() == 1


def test_the_secret_is_shown_once_on_the_page_after_creation(org, admin):
    client = client_for(admin)
    response = client.post(reverse("usage_ingest_key_create", args=[org.slug]), {"name": "CI"})
    assert response.status_code == 200
    key = IngestKey.objects.get()
    html = response.content.decode()
    secret = re.search(r'id="new-key"[^>]*value="([^"]+)"', html).group(1)
    assert ingest_key_for_secret(secret) == key
    listing = client.get(reverse("usage_ingest_keys", args=[org.slug])).content.decode()
    assert key.prefix in listing and secret not in listing


def test_a_key_needs_a_name(org, owner):
    response = client_for(owner).post(
        reverse("usage_ingest_key_create", args=[org.slug]), {"name": " "}
    )
    assert response.status_code == 302
    assert not IngestKey.objects.exists()


def test_the_organization_tab_offers_key_management_to_managers_only(org, owner, member):
    url = reverse("organization_tab", args=[org.slug])
    assert 'id="ingest-keys"' in client_for(owner).get(url).content.decode()
    assert 'id="ingest-keys"' not in client_for(member).get(url).content.decode()


def test_create_ingest_key_command_prints_a_working_key(org):
    out, err = StringIO(), StringIO()
    call_command("create_ingest_key", "acme", "Backfill", stdout=out, stderr=err)
    secret = out.getvalue().strip()
    assert ingest_key_for_secret(secret).name == "Backfill"
    assert AuditEvent.objects.filter(action="usage.ingest_key.create", actor=None).exists()


def test_create_ingest_key_command_rejects_an_unknown_organization(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("create_ingest_key", "nope", "X")
