"""Billing claims the cost of rolled-up days: one debit per organization x local day, dated
that day; late events add a second debit for their day; a rerun posts nothing.

Expected figures are the events' costs, added up by hand per local day of the organization
(Acme is in Europe/Berlin: UTC+1 in November).
"""

import ast
import threading
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import time_machine
from django.conf import settings
from django.db import connections

from billing import tasks, usage_debits
from billing.ledger import balance_of
from billing.ledger_checks import verify_ledger
from billing.models import CreditLedgerEntry, LedgerKind
from organizations.models import Membership, Role
from tests.conftest import make_org, make_user
from tests.usage.conftest import make_event
from usage.ingest import ingest_events
from usage.models import OrgDailyRollup
from usage.rollup import rollup_until_caught_up

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen():  # noqa: ANN201
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def ingest(org, events) -> None:  # noqa: ANN001
    result = ingest_events(organization_id=org.pk, events=events)
    assert result.rejected == 0, result.errors


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def usage_entries(org) -> list[tuple[date, int, str]]:  # noqa: ANN001
    return list(
        CreditLedgerEntry.objects.filter(organization=org, usage_day__isnull=False)
        .order_by("id")
        .values_list("effective_date", "amount_microdollars", "description")
    )


def test_each_local_day_is_debited_its_rolled_up_cost_once(org, member):
    ingest(
        org,
        [
            # 19 Nov 23:30 in Berlin
            make_event(occurred_at=at("2026-11-19T22:30:00"), cost_microdollars=1_250_000),
            # 20 Nov 00:30 in Berlin, still 19 Nov in UTC: belongs to the 20th
            make_event(occurred_at=at("2026-11-19T23:30:00"), cost_microdollars=300_001),
            make_event(occurred_at=at("2026-11-20T15:00:00"), cost_microdollars=7),
        ],
    )
    rollup_until_caught_up()
    assert usage_entries(org) == []  # the rollup itself never touches the ledger

    assert usage_debits.usage_debits_post() == 2
    assert usage_debits.usage_debits_post() == 0  # nothing new: nothing posted
    assert usage_entries(org) == [
        (date(2026, 11, 19), -1_250_000, "Usage on 19 Nov 2026"),
        (date(2026, 11, 20), -300_008, "Usage on 20 Nov 2026"),
    ]
    keys = set(
        CreditLedgerEntry.objects.filter(organization=org).values_list("idempotency_key", flat=True)
    )
    assert keys == {
        f"usage-day:org{org.pk}:2026-11-19:entry1:total1250000",
        f"usage-day:org{org.pk}:2026-11-20:entry1:total300008",
    }
    assert balance_of(org) == -1_550_008
    assert verify_ledger() == []


def test_late_events_add_a_debit_dated_the_day_they_belong_to(org, member, frozen):
    ingest(org, [make_event(occurred_at=at("2026-11-18T10:00:00"), cost_microdollars=1000)])
    rollup_until_caught_up()
    usage_debits.usage_debits_post()
    frozen.move_to(datetime(2026, 11, 25, 9, 0, tzinfo=UTC))
    ingest(org, [make_event(occurred_at=at("2026-11-18T11:00:00"), cost_microdollars=250)])
    rollup_until_caught_up()
    usage_debits.usage_debits_post()
    late = CreditLedgerEntry.objects.filter(organization=org).order_by("id").last()
    assert usage_entries(org) == [
        (date(2026, 11, 18), -1000, "Usage on 18 Nov 2026"),
        (date(2026, 11, 18), -250, "Late usage on 18 Nov 2026"),
    ]
    assert late.created_at == datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    assert late.idempotency_key == f"usage-day:org{org.pk}:2026-11-18:entry2:total1250"
    assert balance_of(org) == -1250
    assert verify_ledger() == []


def test_rerunning_the_rollup_and_the_debits_posts_nothing_new(org, member):
    # (The rollup merges new events into the stored sums, so it is never rewound: see
    # usage/rollup.py. Reruns with nothing new must change nothing.)
    ingest(org, [make_event(cost_microdollars=500) for _ in range(3)])
    rollup_until_caught_up()
    usage_debits.usage_debits_post()
    rollup_until_caught_up()
    assert usage_debits.usage_debits_post() == 0
    assert [amount for _, amount, _ in usage_entries(org)] == [-1500]


def test_a_day_whose_rolled_up_cost_went_down_gets_the_difference_back(org, member):
    ingest(org, [make_event(occurred_at=at("2026-11-20T10:00:00"), cost_microdollars=9000)])
    rollup_until_caught_up()
    usage_debits.usage_debits_post()
    # the day rebuilt at a lower cost (e.g. a repriced model), as the rollup would write it
    OrgDailyRollup.objects.filter(organization_id=org.pk, day=date(2026, 11, 20)).update(
        cost_microdollars=6000
    )
    assert usage_debits.usage_debits_post() == 1
    correction = CreditLedgerEntry.objects.filter(organization=org).order_by("id").last()
    assert (correction.kind, correction.amount_microdollars) == (LedgerKind.ADJUSTMENT, 3000)
    assert correction.usage_day == correction.effective_date == date(2026, 11, 20)
    assert balance_of(org) == -6000
    assert verify_ledger() == []


def test_each_organization_is_debited_for_its_own_usage(org, member):
    other = make_org("globex", "Globex")
    Membership.objects.create(
        organization=other, user=make_user("dev@globex.test"), role=Role.MEMBER
    )
    ingest(org, [make_event(cost_microdollars=100)])
    ingest(other, [make_event(user_email="dev@globex.test", cost_microdollars=900)])
    rollup_until_caught_up()
    usage_debits.usage_debits_post()
    assert balance_of(org) == -100
    assert balance_of(other) == -900


def test_free_usage_writes_no_entry(org, member):
    ingest(org, [make_event(cost_microdollars=0)])
    rollup_until_caught_up()
    assert usage_debits.usage_debits_post() == 0
    assert usage_entries(org) == []


def test_the_minutely_task_covers_recent_days_and_the_nightly_one_every_day(org, member):
    old_day = at("2026-10-01T10:00:00")  # 51 days back: beyond the minutely look-back
    ingest(
        org,
        [
            make_event(occurred_at=old_day, cost_microdollars=40),
            make_event(occurred_at=at("2026-11-20T10:00:00"), cost_microdollars=2),
        ],
    )
    rollup_until_caught_up()
    schedule = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {"billing.tasks.post_usage_debits", "billing.tasks.post_usage_debits_all_days"} <= (
        schedule
    )
    assert tasks.post_usage_debits() == 1
    assert [amount for _, amount, _ in usage_entries(org)] == [-2]
    assert tasks.post_usage_debits_all_days() == 1
    assert sorted(amount for _, amount, _ in usage_entries(org)) == [-40, -2]


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_runs_post_each_day_once(org, member):
    ingest(org, [make_event(occurred_at=at("2026-11-20T10:00:00"), cost_microdollars=777)])
    rollup_until_caught_up()
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            usage_debits.usage_debits_post()
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert [amount for _, amount, _ in usage_entries(org)] == [-777]
    assert balance_of(org) == -777


def test_the_usage_app_never_imports_billing():
    for path in Path(settings.BASE_DIR, "usage").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            assert not any(n == "billing" or n.startswith("billing.") for n in names), path
