"""An Enterprise owner filters to providers that neither train on nor retain prompts, disables
one model, and GET /api/v1/models no longer lists it."""

import re

import pytest
from django.db import transaction
from django.test import Client
from playwright.sync_api import expect

from audit.services import Actor
from billing.ledger import ledger_append
from organizations.models import Plan
from tests.e2e.steps import log_in
from usage.services import ingest_key_create

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

MODEL = "groq/llama-3.3-70b-versatile"  # Groq: trains no, retains no (provider_data_policies)


def _listed(key: str) -> set[str]:
    response = Client().get("/api/v1/models", HTTP_AUTHORIZATION=f"Bearer {key}")
    return {entry["id"] for entry in response.json()["data"]}


def test_owner_filters_disables_a_model_and_the_api_follows(live_server, org, owner, new_page):
    org.plan = Plan.ENTERPRISE
    org.save(update_fields=["plan"])
    with transaction.atomic():
        ledger_append(
            organization=org,
            kind="promotional",
            amount_microdollars=10_000_000,
            idempotency_key="e2e-credit",
        )
    _, key = ingest_key_create(actor=Actor(user=owner), organization=org, name="Gateway")
    assert MODEL in _listed(key)

    page = new_page()
    log_in(page, live_server.url, owner.email)
    page.goto(f"{live_server.url}/orgs/{org.slug}/providers/")
    page.get_by_label("Allows training").select_option("no")
    expect(page).to_have_url(re.compile(r"trains=no"))
    page.get_by_label("Retains prompts").select_option("no")
    expect(page).to_have_url(re.compile(r"trains=no.*retains=no|retains=no.*trains=no"))
    page.get_by_label("Search").fill("llama-3.3-70b-versatile")
    row = page.locator(f'tr[data-model="{MODEL}"]')
    expect(row).to_be_visible()
    # Every row left is from a provider that neither trains nor retains.
    expect(page.locator("#providers-body tbody tr").filter(has_text="Trains: Yes")).to_have_count(0)
    expect(page.locator("#providers-body tbody tr").filter(has_text="Retains: Yes")).to_have_count(
        0
    )

    row.get_by_role("button", name=f"Disable {MODEL}").click()
    expect(page.get_by_text(f"{MODEL} disabled.")).to_be_visible()
    expect(page).to_have_url(re.compile(r"retains=no"))  # back on the same filtered list
    expect(page.locator(f'tr[data-model="{MODEL}"]')).to_contain_text("Not allowed")

    assert MODEL not in _listed(key)
