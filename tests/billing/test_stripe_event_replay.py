"""Stripe events that used up their tries: replayed hourly (bounded), paged at ERROR after an
hour, listed and retried in the admin.

The fault is real: the event's handler raises the error a database fault raises while `FAULT`
is set (the real handler runs once it is cleared), or Stripe answers 404 for the event's object.
"""

import logging
from datetime import timedelta

import pytest
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.db import OperationalError
from django.test import Client
from django.utils import timezone

from accounts.models import User
from audit.models import AuditEvent
from billing import sync
from billing.ledger import balance_of
from stripe_events import handlers, replay
from stripe_events.models import StripeEvent
from stripe_events.tasks import process_stripe_event, replay_missed_events
from tests.billing.conftest import add_card, deliver, fake_event, stripe_events
from tests.billing.test_purchase_flow import buy

pytestmark = pytest.mark.django_db(transaction=True)

DOLLAR = 1_000_000  # microdollars
FAULT = {"on": False}


@pytest.fixture
def database_fault(monkeypatch):  # noqa: ANN201
    """payment_intent.succeeded's handler fails as during a database restart while FAULT is on."""

    def payment_intent_sync(payment_intent_id: str) -> object:
        if FAULT["on"]:
            raise OperationalError("terminating connection due to administrator command")
        return sync.payment_intent_sync(payment_intent_id)

    monkeypatch.setitem(handlers.HANDLERS, "payment_intent.succeeded", (payment_intent_sync,))
    FAULT["on"] = True
    yield FAULT
    FAULT["on"] = False


def failed_purchase_event(org, owner) -> StripeEvent:  # noqa: ANN001
    """A $100 purchase whose payment_intent.succeeded failed every one of the task's tries."""
    add_card(org, owner)
    payment = buy(org, owner)
    payment.refresh_from_db()
    event = stripe_events(payment.stripe_payment_intent_id, "payment_intent.succeeded")[0]
    assert deliver(event).status_code == 500  # non-2xx: the handling failed
    stored = StripeEvent.objects.get(stripe_id=event["id"])
    # The worker's retries, used up (the first try was the delivery's own).
    while stored.attempts < 6:
        with pytest.raises(Exception, match="terminating connection"):
            process_stripe_event(stored.pk)
        stored.refresh_from_db()
    assert stored.status == "failed" and stored.attempts == 6
    assert balance_of(org) == 0
    return stored


def test_an_event_that_used_up_its_tries_is_replayed_hourly_until_the_fault_is_gone(
    org, owner, database_fault, time_machine
):
    failed = failed_purchase_event(org, owner)
    failed_at = failed.failed_at
    assert failed_at is not None

    # The next hourly run, the fault still there: run once more, still failed, counted.
    time_machine.move_to(failed_at + timedelta(minutes=50))
    replay_missed_events()
    failed.refresh_from_db()
    assert (failed.status, failed.attempts, failed.replays) == ("failed", 7, 1)
    assert "terminating connection" in failed.error
    assert failed.failed_at == failed_at  # still the first failure: the hour counts from it
    assert balance_of(org) == 0

    # The fault is gone by the run after: handled, credited once.
    database_fault["on"] = False
    time_machine.move_to(failed_at + timedelta(minutes=110))
    assert replay_missed_events() >= 1
    failed.refresh_from_db()
    assert (failed.status, failed.attempts, failed.replays) == ("processed", 8, 2)
    assert failed.error == "" and failed.failed_at is None
    assert balance_of(org) == 100 * DOLLAR

    # Later runs leave it alone: nothing runs twice, nothing is credited twice.
    time_machine.move_to(failed_at + timedelta(minutes=170))
    replay_missed_events()
    failed.refresh_from_db()
    assert (failed.attempts, failed.replays) == (8, 2)
    assert balance_of(org) == 100 * DOLLAR


def test_the_replay_is_bounded(org, owner, database_fault, time_machine):
    failed = failed_purchase_event(org, owner)
    StripeEvent.objects.filter(pk=failed.pk).update(replays=replay.MAX_REPLAYS)
    database_fault["on"] = False
    time_machine.move_to(failed.failed_at + timedelta(hours=2))
    replay_missed_events()
    failed.refresh_from_db()
    assert (failed.status, failed.attempts) == ("failed", 6)  # not run: its replays are used up
    assert balance_of(org) == 0


def test_a_recent_failure_is_left_to_the_tasks_own_retries(org, owner, database_fault):
    failed = failed_purchase_event(org, owner)
    database_fault["on"] = False
    replay_missed_events()  # within minutes of the failure
    failed.refresh_from_db()
    assert (failed.status, failed.replays) == ("failed", 0)


def _paged(caplog, event: StripeEvent) -> list[logging.LogRecord]:
    return [
        r
        for r in caplog.records
        if r.name == "stripe_events.replay"
        and r.levelno == logging.ERROR
        and event.stripe_id in r.getMessage()
    ]


def test_an_event_failed_for_over_an_hour_is_logged_at_error_once_per_run(
    org, caplog, time_machine
):
    start = timezone.now().replace(microsecond=0)
    time_machine.move_to(start, tick=False)
    # Stripe answers 404 for the event's invoice: a real failure, for good.
    event = fake_event("invoice.paid", "in_never_existed", "evt_failing_for_an_hour")
    assert deliver(event).status_code == 200  # acknowledged: a redelivery cannot help
    stored = StripeEvent.objects.get(stripe_id=event["id"])
    assert stored.status == "failed" and stored.failed_at == start

    time_machine.move_to(start + timedelta(minutes=59), tick=False)
    with caplog.at_level(logging.INFO):
        replay_missed_events()
    assert _paged(caplog, stored) == []  # not yet an hour

    caplog.clear()
    time_machine.move_to(start + timedelta(minutes=61), tick=False)
    with caplog.at_level(logging.INFO):
        replay_missed_events()
    [record] = _paged(caplog, stored)
    message = record.getMessage()
    assert "evt_failing_for_an_hour" in message and "(invoice.paid)" in message
    assert "Not Found" in message  # the last error, for whoever is paged


@pytest.fixture
def staff() -> tuple[User, Client]:
    user = User.objects.create_superuser(email="staff@kilo.test", password="x-staff-pass-123")
    TOTP.activate(user, generate_totp_secret())  # the admin opens only to staff using MFA
    client = Client()
    client.force_login(user)
    return user, client


def test_the_admin_lists_failed_events_and_retries_them_now_audited(
    org, owner, staff, database_fault, time_machine
):
    user, client = staff
    failed = failed_purchase_event(org, owner)
    time_machine.move_to(failed.failed_at + timedelta(hours=2))

    listing = client.get("/admin/stripe_events/stripeevent/?attention=failed_over_an_hour")
    assert listing.status_code == 200
    page = listing.content.decode()
    assert failed.stripe_id in page and "terminating connection" in page
    assert 'class="field-attempts">6<' in page and 'class="field-replays">0<' in page
    processed_only = client.get("/admin/stripe_events/stripeevent/?status__exact=processed")
    assert failed.stripe_id not in processed_only.content.decode()

    database_fault["on"] = False
    response = client.post(
        "/admin/stripe_events/stripeevent/",
        {"action": "retry_now", "_selected_action": [failed.pk]},
        follow=True,
    )
    assert response.status_code == 200
    failed.refresh_from_db()
    assert failed.status == "processed" and failed.attempts == 7
    assert balance_of(org) == 100 * DOLLAR
    audit = AuditEvent.objects.get(action="stripe_event.retried")
    assert audit.actor == user and audit.target_id == failed.stripe_id
    assert audit.before["status"] == "failed" and audit.before["attempts"] == 6
