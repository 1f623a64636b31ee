"""Tamper evidence: the per-organization hash chain, its verification (command and daily task),
retention pruning with an anchor, the append-only trigger, and race-free concurrent writers."""

import threading
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, connections, transaction
from django.urls import reverse

from audit.chain import event_hash
from audit.maintenance import prune, verify_organization
from audit.models import GENESIS_HASH, AuditCount, AuditEvent, AuditTrail, ChainCheck
from audit.services import audit_record, chain_values
from tests.conftest import client_for, make_user

from .conftest import record_at, utc, who


def _events(org, owner, n=4, start_day=1):
    return [
        record_at(
            utc(2026, 3, start_day + i, 9),
            actor=who(owner),
            action="member.removed",
            organization=org,
            target_label=f"Person {i}",
            before={"role": "member"},
        )
        for i in range(n)
    ]


def _tamper(sql, params=()):
    """Change rows behind the application's back (as someone with database access could)."""
    with connection.cursor() as cursor:
        # A superuser can switch triggers off for the session (the test database's user is one).
        cursor.execute("SET session_replication_role = replica")
        cursor.execute(sql, params)
        cursor.execute("SET session_replication_role = origin")


def _verify(org=None):
    out = StringIO()
    args = ["verify_audit_chain", *(["--org", org.slug] if org else [])]
    try:
        call_command(*args, stdout=out)
    except CommandError as error:
        return False, out.getvalue(), error.returncode
    return True, out.getvalue(), 0


@pytest.mark.django_db
def test_each_event_links_to_the_previous_one_of_its_organization(org, other_org, owner, outsider):
    a1, a2 = _events(org, owner, 2)
    b1 = record_at(
        utc(2026, 3, 1, 10), actor=who(outsider), action="member.removed", organization=other_org
    )
    assert (a1.sequence, a2.sequence, b1.sequence) == (1, 2, 1)
    assert a1.prev_hash == GENESIS_HASH == b1.prev_hash
    assert a2.prev_hash == a1.hash
    # The hash is SHA-256 over the previous hash and the canonical content, read back as stored.
    stored = AuditEvent.objects.get(pk=a2.pk)
    assert event_hash(a1.hash, chain_values(stored)) == stored.hash
    assert AuditTrail.objects.get(pk=org.pk).last_hash == a2.hash


@pytest.mark.django_db
def test_an_intact_chain_verifies_and_the_command_exits_zero(org, owner):
    _events(org, owner)
    ok, out, code = _verify(org)
    assert ok and code == 0
    assert "acme: ok, 4 events verified (chain through #4)" in out
    assert ChainCheck.objects.get(organization=org).ok


@pytest.mark.django_db
def test_an_altered_event_is_reported_as_the_first_broken_link(org, owner):
    events = _events(org, owner)
    _tamper(
        "UPDATE audit_auditevent SET target_label = 'Someone else' WHERE id = %s", [events[1].id]
    )
    ok, out, code = _verify(org)
    assert not ok and code == 1
    assert f"Broken link at event #2 ({events[1].public_id})" in out
    assert "altered" in out


@pytest.mark.django_db
def test_a_deleted_event_is_reported_as_a_missing_link(org, owner):
    events = _events(org, owner)
    _tamper("DELETE FROM audit_auditevent WHERE id = %s", [events[2].id])
    ok, out, code = _verify(org)
    assert not ok and code == 1
    assert "Missing link: event #3 is missing (next found: #4)" in out


@pytest.mark.django_db
def test_deleting_the_newest_events_is_caught_against_the_head(org, owner):
    events = _events(org, owner)
    _tamper("DELETE FROM audit_auditevent WHERE id IN (%s, %s)", [events[2].id, events[3].id])
    report = verify_organization(org)
    assert not report.ok
    assert report.problem.startswith("Missing link: events #3 to #4 are missing")


@pytest.mark.django_db
def test_a_forged_event_with_a_recomputed_hash_still_breaks_the_next_link(org, owner):
    events = _events(org, owner)
    forged = AuditEvent.objects.get(pk=events[1].pk)
    forged.target_label = "Nobody"
    new_hash = event_hash(forged.prev_hash, chain_values(forged))
    _tamper(
        "UPDATE audit_auditevent SET target_label = 'Nobody', hash = %s WHERE id = %s",
        [new_hash, forged.id],
    )
    report = verify_organization(org)
    assert not report.ok
    assert "Broken link at event #3" in report.problem
    assert "does not point to the hash of the event before it" in report.problem


@pytest.mark.django_db
def test_the_command_checks_every_organization_and_names_the_broken_one(
    org, other_org, owner, outsider
):
    _events(org, owner, 2)
    bad = record_at(
        utc(2026, 3, 1, 10), actor=who(outsider), action="member.removed", organization=other_org
    )
    _tamper("UPDATE audit_auditevent SET action = 'member.left' WHERE id = %s", [bad.id])
    ok, out, code = _verify()
    assert not ok and code == 1
    assert "acme: ok" in out and "initech: BROKEN" in out


@pytest.mark.django_db
def test_the_command_refuses_an_unknown_slug(org):
    with pytest.raises(CommandError, match="No organization"):
        call_command("verify_audit_chain", "--org", "nope")


@pytest.mark.django_db
def test_the_database_refuses_update_and_delete_of_audit_rows(org, owner):
    event = _events(org, owner, 1)[0]
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(action="member.left")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()
    # Not even the pruning switch allows an UPDATE.
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        connection.cursor().execute("SET LOCAL audit.pruning = 'on'")
        AuditEvent.objects.filter(pk=event.pk).update(target_label="x")
    assert AuditEvent.objects.get(pk=event.pk).action == "member.removed"


@pytest.mark.django_db
def test_deleting_an_acting_user_keeps_their_events_and_the_chain(org):
    leaver = make_user("leaver@acme.test", "Lee Leaver")
    _events(org, leaver, 2)
    leaver.delete()  # Django sets actor_id to NULL: the one UPDATE the trigger lets through
    assert list(
        AuditEvent.objects.order_by().values_list("actor_id", "actor_email").distinct()
    ) == [(None, "leaver@acme.test")]
    assert verify_organization(org).ok


@pytest.mark.django_db
def test_pruning_removes_events_past_retention_and_the_chain_still_verifies(org, owner):
    old = [
        record_at(utc(2024, m, 1, 9), actor=who(owner), action="member.removed", organization=org)
        for m in (1, 2, 3)
    ]
    kept = [record_at(utc(2025, 6, 1, 9), actor=who(owner), action="member.left", organization=org)]

    result = prune(org, now=utc(2026, 1, 15, 0))

    # Teams keeps one year: everything before 2025-01-15 goes.
    assert result.deleted == 3
    assert not AuditEvent.objects.filter(pk__in=[e.pk for e in old]).exists()
    trail = AuditTrail.objects.get(pk=org.pk)
    assert (trail.anchor_sequence, trail.anchor_hash) == (3, old[-1].hash)
    assert AuditEvent.objects.get(pk=kept[0].pk).prev_hash == trail.anchor_hash
    pruned = AuditEvent.objects.get(action="audit.events_pruned")
    assert pruned.after["events_removed"] == 3 and pruned.sequence == 5
    assert not AuditCount.objects.filter(organization=org, day__year=2024).exists()
    assert verify_organization(org).ok
    assert trail.retained_events == 2


@pytest.mark.django_db
def test_pruning_in_batches_moves_the_anchor_each_time(org, owner):
    [
        record_at(utc(2024, 1, d, 9), actor=who(owner), action="member.removed", organization=org)
        for d in range(1, 8)
    ]
    assert prune(org, now=utc(2026, 1, 1), batch=3).deleted == 7
    assert AuditTrail.objects.get(pk=org.pk).anchor_sequence == 7
    assert verify_organization(org).ok


@pytest.mark.django_db
def test_enterprise_keeps_what_it_chose_and_teams_one_year(enterprise, owner):
    two_years_old = record_at(
        utc(2024, 2, 1), actor=who(owner), action="member.removed", organization=enterprise
    )
    AuditTrail.objects.filter(pk=enterprise.pk).update(retention_years=3)
    assert prune(enterprise, now=utc(2026, 3, 1)).deleted == 0
    # Back on Teams, the one-year retention applies.
    enterprise.plan = "teams"
    enterprise.save(update_fields=["plan"])
    assert prune(enterprise, now=utc(2026, 3, 1)).deleted == 1
    assert not AuditEvent.objects.filter(pk=two_years_old.pk).exists()


@pytest.mark.django_db
def test_the_daily_task_is_scheduled_prunes_and_records_a_chain_check(org, owner):
    from audit.tasks import audit_retention

    schedule = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "audit.tasks.audit_retention" in schedule
    record_at(utc(2020, 1, 1), actor=who(owner), action="member.removed", organization=org)
    _events(org, owner, 2, start_day=20)

    result = audit_retention.apply().get()

    assert result == {"pruned": 1, "broken": []}
    check = ChainCheck.objects.get(organization=org)
    assert check.ok and check.events_checked == 3  # two kept, plus the pruning's own event


@pytest.mark.django_db
def test_the_tab_shows_the_chain_status(enterprise, owner, admin):
    events = _events(enterprise, owner, 3)
    verify_organization(enterprise)
    url = reverse("audit_tab", args=[enterprise.slug]) + "?start=2026-01-01&end=2026-03-31"
    assert (
        "<strong>Intact</strong>: 3 events verified" in client_for(admin).get(url).content.decode()
    )
    _tamper("UPDATE audit_auditevent SET after = '{\"x\": 1}' WHERE id = %s", [events[0].id])
    verify_organization(enterprise)
    html = client_for(admin).get(url).content.decode()
    assert "<strong>Broken</strong>" in html and "Broken link at event #1" in html


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_never_share_a_sequence_number(org, owner):
    """Eight threads, each its own connection and transaction, record at once."""
    threads, errors = 8, []
    barrier = threading.Barrier(threads)

    def write(i):
        try:
            barrier.wait(timeout=30)
            for _ in range(5):
                with transaction.atomic():
                    audit_record(
                        actor=who(owner),
                        action="member.removed",
                        organization=org,
                        target_label=f"thread {i}",
                    )
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            connections.close_all()

    workers = [threading.Thread(target=write, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)

    assert not errors
    sequences = sorted(
        AuditEvent.objects.filter(organization=org).values_list("sequence", flat=True)
    )
    assert sequences == list(range(1, 41))
    assert verify_organization(org, record=False).ok
