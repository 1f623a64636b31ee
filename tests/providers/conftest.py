"""Fixtures for the providers tests: an Enterprise Acme, credit, an ingest key."""

import pytest

from billing.balance import ledger_post
from organizations.models import Plan
from tests.conftest import actor
from usage.services import ingest_key_create


@pytest.fixture
def enterprise(org):
    org.plan = Plan.ENTERPRISE
    org.save(update_fields=["plan"])
    return org


@pytest.fixture
def credit(org):
    from django.db import transaction

    with transaction.atomic():
        ledger_post(
            organization=org,
            kind="promotional",
            amount_microdollars=50_000_000,
            idempotency_key=f"test-credit-{org.pk}",
            description="Test credit",
        )
    return org


@pytest.fixture
def api_key(org, owner) -> str:
    _, secret = ingest_key_create(actor=actor(owner), organization=org, name="Gateway")
    return secret
