"""Per-member day counts: kept by audit_record, filled by the migration, pruned with the events,
rebuilt after a time-zone change, and what the tab's member views total from.

Acme is in Europe/Berlin (UTC+1 in winter, UTC+2 from 29 March 2026): the local days below are
worked out by hand from the UTC times the events are recorded at.
"""

import importlib
from datetime import date

import pytest
from django.apps import apps as django_apps
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.filters import AuditFilters
from audit.maintenance import counts_follow_time_zone, prune
from audit.models import AuditMemberCount
from audit.selectors import totals
from audit.services import Actor
from tests.conftest import make_user

from .conftest import record_at, utc, who

BACKFILL = importlib.import_module("audit.migrations.0006_member_counts").backfill


def member_counts(org) -> dict:
    return {
        (row.actor_id, row.day.isoformat(), row.action): row.count
        for row in AuditMemberCount.objects.filter(organization=org)
    }


@pytest.fixture
def week(enterprise, owner, admin):
    """Seven events of Acme around two Berlin midnights, one of them by no user."""
    org = enterprise
    plan = [
        (utc(2026, 3, 2, 22, 30), owner, "member.removed"),  # 23:30, 2 Mar
        (utc(2026, 3, 2, 23, 30), owner, "member.removed"),  # 00:30, 3 Mar
        (utc(2026, 3, 3, 10, 0), admin, "member.removed"),
        (utc(2026, 3, 3, 11, 0), owner, "invitation.created"),
        (utc(2026, 3, 3, 12, 0), owner, "billing.card_added"),
        (utc(2026, 3, 4, 9, 0), owner, "member.removed"),
    ]
    for moment, user, action in plan:
        record_at(moment, actor=who(user), action=action, organization=org)
    # A task's event: counted in the organization's days, but no member's.
    record_at(
        utc(2026, 3, 3, 13, 0),
        actor=Actor.system("task"),
        action="member.removed",
        organization=org,
    )
    return org


def expected_week(owner, admin) -> dict:
    return {
        (owner.pk, "2026-03-02", "member.removed"): 1,
        (owner.pk, "2026-03-03", "member.removed"): 1,
        (admin.pk, "2026-03-03", "member.removed"): 1,
        (owner.pk, "2026-03-03", "invitation.created"): 1,
        (owner.pk, "2026-03-03", "billing.card_added"): 1,
        (owner.pk, "2026-03-04", "member.removed"): 1,
    }


@pytest.mark.django_db
def test_audit_record_counts_each_members_events_per_local_day_and_action(week, owner, admin):
    assert member_counts(week) == expected_week(owner, admin)


@pytest.mark.django_db
def test_the_migration_fills_the_member_counts_from_existing_events(week, owner, admin):
    AuditMemberCount.objects.all().delete()
    with connection.schema_editor() as editor:
        BACKFILL(django_apps, editor)
    assert member_counts(week) == expected_week(owner, admin)


@pytest.mark.django_db
def test_the_migrations_python_path_for_sqlite_fills_the_same_counts(week, owner, admin):
    class NotPostgres:
        class connection:  # noqa: N801 - stands in for schema_editor.connection
            vendor = "sqlite"

    AuditMemberCount.objects.all().delete()
    BACKFILL(django_apps, NotPostgres())
    assert member_counts(week) == expected_week(owner, admin)


def _filters(**kwargs) -> AuditFilters:
    return AuditFilters(
        start=date(2026, 3, 1), end=date(2026, 3, 7), time_zone="Europe/Berlin", **kwargs
    )


def _by_day(result) -> dict:
    return {p.start.isoformat(): p.count for p in result.periods if p.count}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("narrowing", "days", "categories"),
    [
        # The owner alone: 1 on 2 Mar, 3 on 3 Mar (removal, invitation, card), 1 on 4 Mar.
        (
            {},
            {"2026-03-02": 1, "2026-03-03": 3, "2026-03-04": 1},
            {"members": 3, "invitations": 1, "billing": 1},
        ),
        (
            {"action": "member.removed"},
            {"2026-03-02": 1, "2026-03-03": 1, "2026-03-04": 1},
            {"members": 3},
        ),
        ({"category": "billing"}, {"2026-03-03": 1}, {"billing": 1}),
        ({"category": "invitations"}, {"2026-03-03": 1}, {"invitations": 1}),
    ],
)
def test_a_members_totals_come_from_count_rows_never_from_the_events(
    week, owner, narrowing, days, categories
):
    filters = _filters(member="any", **narrowing)
    with CaptureQueriesContext(connection) as queries:
        result = totals(week, filters, member_user_id=owner.pk)
    assert _by_day(result) == days
    assert {value: n for value, _, n in result.categories} == categories
    assert result.total == sum(days.values()) and result.scanned_since is None
    assert not any("audit_auditevent" in q["sql"] for q in queries.captured_queries)


@pytest.mark.django_db
def test_the_views_without_a_member_also_read_only_count_rows(week):
    with CaptureQueriesContext(connection) as queries:
        result = totals(week, _filters(action="member.removed"), member_user_id=None)
    # Four removals by members and one by the task: 2 Mar 1, 3 Mar 3 (00:30, admin, task), 4 Mar 1.
    assert _by_day(result) == {"2026-03-02": 1, "2026-03-03": 3, "2026-03-04": 1}
    assert not any("audit_auditevent" in q["sql"] for q in queries.captured_queries)


@pytest.mark.django_db
def test_text_totals_count_only_the_newest_events_of_the_view_and_say_so(week, owner, monkeypatch):
    from audit import selectors

    monkeypatch.setattr(selectors, "SCAN_LIMIT", 4)
    # Only the newest four events of the view are looked at: 4 Mar (owner), 3 Mar 13:00 (the
    # task), 12:00 (owner), 11:00 (owner). Three of them carry the owner's address.
    result = totals(week, _filters(query="owner@acme"), member_user_id=None)
    assert _by_day(result) == {"2026-03-03": 2, "2026-03-04": 1}
    assert result.scanned_since == date(2026, 3, 3)

    monkeypatch.setattr(selectors, "SCAN_LIMIT", 100)
    complete = totals(week, _filters(query="owner@acme"), member_user_id=None)
    assert _by_day(complete) == {"2026-03-02": 1, "2026-03-03": 3, "2026-03-04": 1}
    assert complete.scanned_since is None


@pytest.mark.django_db
def test_the_tab_says_when_a_searchs_totals_are_partial(week, admin, monkeypatch):
    import time_machine
    from django.urls import reverse

    from audit import selectors
    from tests.conftest import client_for

    monkeypatch.setattr(selectors, "SCAN_LIMIT", 4)
    url = reverse("audit_tab", args=[week.slug]) + "?start=2026-03-01&end=2026-03-07&q=acme"
    with time_machine.travel(utc(2026, 3, 10), tick=False):
        html = client_for(admin).get(url).content.decode()
    assert "Counted over the newest 4 events of this view only (back to 3 Mar 2026)" in html


@pytest.mark.django_db
def test_pruning_drops_member_counts_of_pruned_days_and_recounts_the_cutoff_day(
    enterprise, owner, admin
):
    org = enterprise
    # Teams and Enterprise keep one year by default: pruning at 2026-03-03 12:00 UTC cuts at
    # 2025-03-03 12:00 UTC (13:00 in Berlin), so 3 Mar 2025 keeps only its afternoon.
    record_at(utc(2025, 3, 1, 9), actor=who(owner), action="member.removed", organization=org)
    record_at(utc(2025, 3, 3, 9), actor=who(owner), action="member.removed", organization=org)
    record_at(utc(2025, 3, 3, 15), actor=who(owner), action="member.removed", organization=org)
    record_at(utc(2025, 3, 3, 16), actor=who(admin), action="member.removed", organization=org)
    record_at(utc(2025, 6, 1, 9), actor=who(admin), action="member.left", organization=org)

    assert prune(org, now=utc(2026, 3, 3, 12)).deleted == 2

    assert member_counts(org) == {
        (owner.pk, "2025-03-03", "member.removed"): 1,
        (admin.pk, "2025-03-03", "member.removed"): 1,
        (admin.pk, "2025-06-01", "member.left"): 1,
    }


@pytest.mark.django_db
def test_a_time_zone_change_rebuilds_the_member_counts_in_the_new_zone(week, owner, admin):
    week.time_zone = "America/New_York"  # UTC-5 in early March
    week.save(update_fields=["time_zone"])
    assert counts_follow_time_zone(week) is True
    # 22:30 and 23:30 UTC on 2 Mar are 17:30 and 18:30 on 2 Mar in New York.
    assert member_counts(week) == {
        (owner.pk, "2026-03-02", "member.removed"): 2,
        (admin.pk, "2026-03-03", "member.removed"): 1,
        (owner.pk, "2026-03-03", "invitation.created"): 1,
        (owner.pk, "2026-03-03", "billing.card_added"): 1,
        (owner.pk, "2026-03-04", "member.removed"): 1,
    }


@pytest.mark.django_db
def test_deleting_a_user_deletes_their_counts_with_them(enterprise, owner):
    leaver = make_user("leaver@acme.test", "Lee Leaver")
    record_at(utc(2026, 3, 2, 9), actor=who(leaver), action="member.left", organization=enterprise)
    record_at(utc(2026, 3, 2, 9), actor=who(owner), action="member.left", organization=enterprise)
    leaver.delete()
    assert member_counts(enterprise) == {(owner.pk, "2026-03-02", "member.left"): 1}
