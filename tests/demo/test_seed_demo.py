"""seed_demo: the demo a newcomer sees first.

- It runs before the web server is up, so localstripe's webhooks reach no one: the events of
  everything it does (the subscriptions' last) must still be stored and handled.
- Every statement of the demo reconciles and reads like a real customer's: never a negative
  balance (the demo used to buy its credits at seeding time while its usage debits are dated
  months back, so past statements closed thousands of dollars below zero).
- Globex is believable on every tab, every change is audited in time order on a valid chain,
  and running the command again adds nothing.
"""

from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import Count, Sum

from audit.maintenance import verify_organization
from audit.models import AuditEvent
from billing import documents
from billing.ledger import balance_of
from billing.ledger_checks import verify_ledger
from billing.models import CreditLedgerEntry, Document, DocumentKind, LedgerKind, Payment
from organizations.models import Invitation, Membership, Organization
from providers.models import ModelPolicy
from sso.models import Connection, Domain
from stripe_events.models import StripeEvent, StripeEventStatus
from subscriptions.models import Subscription
from usage import demo as usage_demo
from usage.models import IngestedRequest

pytestmark = pytest.mark.django_db


def _seed(django_capture_on_commit_callbacks) -> str:  # noqa: ANN001
    out = StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo", stdout=out)
    return out.getvalue()


@pytest.fixture
def eager(monkeypatch):  # noqa: ANN201
    from kilo_dashboard.celery import app

    monkeypatch.setattr(app.conf, "task_always_eager", True)  # handle queued work in-process
    # No PDF rendering (WeasyPrint) nor DNS look-up: beside the point here and slow.
    monkeypatch.setattr("billing.tasks.render_document.run", lambda *args: None, raising=False)
    monkeypatch.setattr("sso.tasks.check_domain.run", lambda *args: None, raising=False)


def test_seeding_stores_and_handles_the_subscriptions_stripe_events(
    eager, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(usage_demo, "PER_MEMBER_WEEKDAY", 4)  # volume is beside the point here
    out = _seed(django_capture_on_commit_callbacks)

    for slug in ("acme", "globex"):
        subscription = Subscription.objects.get(organization__slug=slug)
        events = StripeEvent.objects.filter(object_id=subscription.stripe_id)
        assert set(events.values_list("type", flat=True)) >= {"customer.subscription.created"}
        assert set(events.values_list("status", flat=True)) == {StripeEventStatus.PROCESSED}
    assert "event(s) received that no webhook could deliver" in out


def _figures_add_up(context: dict) -> None:
    lines = ("purchased", "promotional", "refunded", "adjusted", "used")
    assert context["opening"] + sum(context[line] for line in lines) == context["closing"]
    running = context["opening"]
    for row in context["activity"]:
        running += row["entry"].amount_microdollars
        assert row["balance_microdollars"] == running
        assert running >= 0, f"{row['entry']} leaves a negative balance"
    members = context["usage_breakdown"].get("by_member", [])
    assert context["used"] == -sum(row["cost_microdollars"] for row in members)


def _story_snapshot() -> dict:
    return {
        "members": Membership.objects.count(),
        "invitations": Invitation.objects.count(),
        "events": IngestedRequest.objects.count(),
        "ledger": CreditLedgerEntry.objects.count(),
        "payments": Payment.objects.count(),
        "documents": Document.objects.count(),
        "audit": AuditEvent.objects.count(),
        "connections": Connection.objects.count(),
        "domains": Domain.objects.count(),
        "subscriptions": Subscription.objects.count(),
    }


def test_the_demo_statements_reconcile_globex_is_complete_and_a_rerun_adds_nothing(
    eager, django_capture_on_commit_callbacks
):
    _seed(django_capture_on_commit_callbacks)

    for slug in ("acme", "globex"):
        org = Organization.objects.get(slug=slug)
        statements = Document.objects.filter(
            organization=org, kind=DocumentKind.STATEMENT
        ).order_by("period_start")
        assert statements.count() >= 2, slug
        closing = None
        for document in statements:
            context = documents.statement_context(document)
            assert context["opening"] >= 0 and context["closing"] >= 0
            if closing is not None:
                assert context["opening"] == closing  # months follow each other
            _figures_add_up(context)
            closing = context["closing"]
        # Bought ahead of the usage, as a customer whose gateway refuses requests without credit.
        purchases = CreditLedgerEntry.objects.filter(organization=org, kind=LedgerKind.PURCHASE)
        first_usage = (
            CreditLedgerEntry.objects.filter(organization=org, kind=LedgerKind.USAGE)
            .order_by("effective_date")
            .first()
        )
        assert purchases.order_by("effective_date").first().effective_date < (
            first_usage.effective_date
        )
        # Posted in time order: the Billing tab's "balance after" never goes below zero either.
        assert not CreditLedgerEntry.objects.filter(
            organization=org, balance_after_microdollars__lt=0
        ).exists()
        total = CreditLedgerEntry.objects.filter(organization=org).aggregate(
            s=Sum("amount_microdollars")
        )["s"]
        assert balance_of(org) == total > 0
        # Audited through the services: a valid chain, in time order.
        assert verify_organization(org, record=False).ok
        times = list(
            AuditEvent.objects.filter(organization=org)
            .order_by("sequence")
            .values_list("created_at", flat=True)
        )
        assert times == sorted(times)
    assert verify_ledger() == []

    # Acme buys its packs in the order of the story ($1,000, $2,500, then $1,000 each time).
    acme = Organization.objects.get(slug="acme")
    bought = list(
        Payment.objects.filter(organization=acme, purpose="credit_purchase")
        .order_by("created_at")
        .values_list("amount_cents", flat=True)
    )
    assert len(bought) >= 2
    assert bought == [1_000_00, 2_500_00, *[1_000_00] * (len(bought) - 2)]

    globex = Organization.objects.get(slug="globex")
    assert globex.plan == "enterprise" and globex.seat_count == 15
    assert globex.code_training_opt_out is True
    roles = dict(
        Membership.objects.filter(organization=globex)
        .values_list("role")
        .annotate(n=Count("id"))
        .values_list("role", "n")
    )
    assert roles == {"owner": 1, "admin": 3, "member": 8}
    pending = Invitation.objects.filter(organization=globex, status="pending")
    assert list(pending.values_list("email", flat=True)) == ["noah.klein@globex.test"]
    policy = ModelPolicy.objects.get(organization=globex)
    assert "anthropic/*" in [entry["rule"] for entry in policy.allow]
    assert len(policy.deny) == 4 and policy.default_model == "anthropic/claude-sonnet-4-5"
    connection = Connection.objects.get(organization=globex)
    assert connection.tested_at is None  # configured, never tested: no IdP runs in the demo
    domain = Domain.objects.get(organization=globex)
    assert (domain.name, domain.status, domain.verified_at) == ("globex.test", "pending", None)
    months = {
        entry.month
        for entry in CreditLedgerEntry.objects.filter(
            organization=globex, kind=LedgerKind.USAGE
        ).dates("effective_date", "month")
    }
    assert len(months) >= 4  # usage over the past months, not one burst
    actions = set(AuditEvent.objects.filter(organization=globex).values_list("action", flat=True))
    assert actions >= {
        "organization.created",
        "invitation.created",
        "invitation.accepted",
        "member.role_changed",
        "member.removed",
        "providers.policy_updated",
        "sso.connection_created",
        "sso.domain_claimed",
    }

    before = _story_snapshot()
    _seed(django_capture_on_commit_callbacks)
    assert _story_snapshot() == before
