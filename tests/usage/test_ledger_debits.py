"""The rollup posts each window's usage cost to the credit ledger, exactly once."""

from datetime import timedelta

import pytest
from django.utils import timezone

from billing.ledger import balance_of, verify_ledger
from billing.models import CreditLedgerEntry, LedgerKind
from organizations.models import Membership, Role
from tests.conftest import make_org, make_user
from usage.models import RollupState
from usage.rollup import rollup_until_caught_up

from .conftest import make_event
from .test_rollup import _ingest

pytestmark = pytest.mark.django_db


def usage_entries(org):
    return list(
        CreditLedgerEntry.objects.filter(organization=org, kind=LedgerKind.USAGE).order_by("id")
    )


def test_a_rollup_window_debits_the_sum_of_its_costs_once(org, member):
    _ingest(org, [make_event(cost_microdollars=c) for c in (1_250_000, 300_001, 7)])
    rollup_until_caught_up()
    rollup_until_caught_up()  # nothing new: no second debit

    [entry] = usage_entries(org)
    assert entry.amount_microdollars == -1_550_008
    assert entry.idempotency_key.startswith("usage:")
    assert balance_of(org) == -1_550_008
    assert verify_ledger() == []


def test_a_replayed_window_is_not_debited_twice(org, member):
    _ingest(org, [make_event(cost_microdollars=500) for _ in range(3)])
    rollup_until_caught_up()
    RollupState.objects.update(last_event_id=0)  # an operator rewinds the cursor
    rollup_until_caught_up()
    assert [e.amount_microdollars for e in usage_entries(org)] == [-1500]


def test_late_events_are_debited_in_the_next_window(org, member):
    _ingest(org, [make_event(cost_microdollars=1000)])
    rollup_until_caught_up()
    late = timezone.now() - timedelta(days=2)
    _ingest(org, [make_event(occurred_at=late, cost_microdollars=250)])
    rollup_until_caught_up()
    assert [e.amount_microdollars for e in usage_entries(org)] == [-1000, -250]
    assert balance_of(org) == -1250


def test_each_organization_is_debited_for_its_own_usage(org, member):
    other = make_org("globex", "Globex")
    user = make_user("dev@globex.test")
    Membership.objects.create(organization=other, user=user, role=Role.MEMBER)
    _ingest(org, [make_event(cost_microdollars=100)])
    _ingest(other, [make_event(user_email="dev@globex.test", cost_microdollars=900)])
    rollup_until_caught_up()
    assert balance_of(org) == -100
    assert balance_of(other) == -900


def test_free_events_write_no_entry(org, member):
    _ingest(org, [make_event(cost_microdollars=0)])
    rollup_until_caught_up()
    assert usage_entries(org) == []
