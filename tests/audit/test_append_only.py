"""No session can switch off the audit trail's protection (issue 19, finding 2).

Before, any session could `SET LOCAL audit.pruning = 'on'`, move the anchor in audit_audittrail
and delete a minutes-old event, and the chain still verified; `TRUNCATE audit_auditevent` went
through. Now, as the application's role: no DELETE or TRUNCATE privilege, triggers that refuse
the change even to a role that has the privilege, and one way to prune, `audit_prune()`, which
removes only events past the retention (migration 0007)."""

from datetime import timedelta

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from audit.maintenance import prune, verify_organization
from audit.models import AuditEvent, AuditTrail
from audit.services import audit_record
from tests.app_role import as_app_role

from .conftest import record_at, utc, who


def _old_and_recent(org, owner):
    """Two events of 2024 (past any retention) and two recorded minutes ago."""
    old = [
        record_at(utc(2024, m, 1, 9), actor=who(owner), action="member.removed", organization=org)
        for m in (1, 2)
    ]
    recent = []
    for minutes in (5, 2):
        moment = timezone.now() - timedelta(minutes=minutes)
        recent.append(record_at(moment, actor=who(owner), action="member.left", organization=org))
    return old, recent


def _execute(sql, params=()):
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


@pytest.mark.django_db
def test_the_pruning_switch_does_not_let_the_app_delete_a_recent_event(org, owner):
    _, recent = _old_and_recent(org, owner)
    with (
        as_app_role(),
        pytest.raises(DatabaseError, match="permission denied"),
        transaction.atomic(),
    ):
        connection.cursor().execute("SET LOCAL audit.pruning = 'on'")
        AuditEvent.objects.filter(pk=recent[0].pk).delete()
    # Even a role that holds DELETE (a mistaken grant) meets the trigger.
    with (
        as_app_role(extra_grants=("DELETE ON audit_auditevent",)),
        pytest.raises(DatabaseError, match="append-only .DELETE refused"),
        transaction.atomic(),
    ):
        connection.cursor().execute("SET LOCAL audit.pruning = 'on'")
        AuditEvent.objects.filter(pk=recent[0].pk).delete()
    assert AuditEvent.objects.filter(pk=recent[0].pk).exists()
    assert verify_organization(org).ok


@pytest.mark.django_db
def test_the_app_cannot_move_the_anchor_nor_rewind_or_delete_the_trail(org, owner):
    _, recent = _old_and_recent(org, owner)
    trail = AuditTrail.objects.get(pk=org.pk)
    with as_app_role(extra_grants=("DELETE ON audit_audittrail",)):
        for sql, params in (
            # The attack of issue 19: anchor on the event before a recent one, then delete it.
            (
                "UPDATE audit_audittrail SET anchor_sequence = %s, anchor_hash = %s "
                "WHERE organization_id = %s",
                [recent[0].sequence, recent[0].hash, org.pk],
            ),
            (
                "UPDATE audit_audittrail SET last_sequence = last_sequence - 1, last_hash = %s "
                "WHERE organization_id = %s",
                [recent[0].hash, org.pk],
            ),
            ("DELETE FROM audit_audittrail WHERE organization_id = %s", [org.pk]),
        ):
            with (
                pytest.raises(DatabaseError, match="audit_audittrail"),
                transaction.atomic(),
                connection.cursor() as cursor,
            ):
                cursor.execute("SET LOCAL audit.pruning = 'on'")
                cursor.execute(sql, params)
        # What the application does do to the trail still works: the head advances.
        with transaction.atomic():
            audit_record(actor=who(owner), action="member.left", organization=org)
    after = AuditTrail.objects.get(pk=org.pk)
    assert (after.anchor_sequence, after.anchor_hash) == (trail.anchor_sequence, trail.anchor_hash)
    assert after.last_sequence == trail.last_sequence + 1
    assert verify_organization(org).ok


@pytest.mark.django_db
def test_truncate_of_the_audit_tables_is_refused_whatever_the_session_sets(org, owner):
    _old_and_recent(org, owner)
    for table in ("audit_auditevent", "audit_audittrail"):
        with as_app_role(), pytest.raises(DatabaseError, match="permission denied"):
            _execute(f"TRUNCATE {table} CASCADE")
        # A role given TRUNCATE by mistake still meets the trigger, switch or no switch.
        with (
            as_app_role(extra_grants=(f"TRUNCATE ON {table}",)),
            pytest.raises(DatabaseError, match=f"{table}.*TRUNCATE refused"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute("SET LOCAL audit.pruning = 'on'")
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(f"TRUNCATE {table}")
    assert AuditEvent.objects.filter(organization=org).count() == 4


@pytest.mark.django_db
def test_the_retention_function_prunes_only_old_events_and_the_chain_still_verifies(org, owner):
    old, recent = _old_and_recent(org, owner)
    # The app asks for everything up to now: only what is past the one-year retention goes.
    with as_app_role(), connection.cursor() as cursor:
        cursor.execute("SELECT audit_prune(%s, now(), 1000)", [org.pk])
        assert cursor.fetchone()[0] == 2
    assert not AuditEvent.objects.filter(pk__in=[e.pk for e in old]).exists()
    assert AuditEvent.objects.filter(pk__in=[e.pk for e in recent]).count() == 2
    trail = AuditTrail.objects.get(pk=org.pk)
    assert (trail.anchor_sequence, trail.anchor_hash) == (2, old[-1].hash)
    assert verify_organization(org).ok


@pytest.mark.django_db
def test_the_retention_task_prunes_through_the_function_as_the_app_role(org, owner):
    old, recent = _old_and_recent(org, owner)
    with as_app_role():
        assert prune(org).deleted == 2
        assert verify_organization(org).ok
    assert set(AuditEvent.objects.filter(organization=org).values_list("pk", flat=True)) >= {
        e.pk for e in recent
    }


@pytest.mark.django_db
def test_no_path_deletes_a_minutes_old_event(org, owner):
    _, recent = _old_and_recent(org, owner)
    with as_app_role():
        # The function, asked for a cut-off in the future, stops at the retention horizon.
        with connection.cursor() as cursor:
            cursor.execute("SELECT audit_prune(%s, now() + interval '1 day', 1000)", [org.pk])
        # The role the function runs as is not the app's to take. (Checked as membership: SET
        # ROLE is judged by the session's user, here the test database's superuser.)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_has_role(current_user, 'kilo_maintenance', 'MEMBER')")
            assert cursor.fetchone()[0] is False
        with pytest.raises(DatabaseError, match="permission denied"):
            _execute("DELETE FROM audit_auditevent WHERE id = %s", [recent[-1].pk])
    assert AuditEvent.objects.filter(pk__in=[e.pk for e in recent]).count() == 2
    assert verify_organization(org).ok


@pytest.mark.django_db
def test_the_function_keeps_what_an_enterprise_chose_whatever_cut_off_it_is_given(
    enterprise, owner
):
    two_years_old = record_at(
        timezone.now() - timedelta(days=2 * 365),
        actor=who(owner),
        action="member.removed",
        organization=enterprise,
    )
    AuditTrail.objects.filter(pk=enterprise.pk).update(retention_years=3)
    with as_app_role(), connection.cursor() as cursor:
        cursor.execute("SELECT audit_prune(%s, now(), 1000)", [enterprise.pk])
        assert cursor.fetchone()[0] == 0
    assert AuditEvent.objects.filter(pk=two_years_old.pk).exists()
