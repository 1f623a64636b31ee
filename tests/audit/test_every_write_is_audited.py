"""Every public service function that changes state records an audit event.

The apps' services modules are analysed statically (see tests/audit/service_writes.py for how
and why). A new public service function that saves, creates, updates or deletes without calling
audit_record (directly or through a function it calls) fails here. The few that write on
purpose without an event are listed with the reason; the list cannot go stale.
"""

import textwrap

from tests.audit import service_writes
from tests.audit.service_writes import analyse, service_modules, unaudited_writers

# qualified name -> why it changes state without an audit event of its own.
NOT_AUDITED = {
    "billing.services.customer_ensure": (
        "creates the local mirror of the organization's Stripe customer on first use; the change "
        "that needed it (details, card, payment) is audited by its caller"
    ),
    "billing.services.card_setup_start": (
        "only starts a Stripe SetupIntent (and the customer mirror); the card itself is added, "
        "and audited, by card_add_from_setup_intent"
    ),
    "stripe_events.services.event_receive": (
        "stores a Stripe event by id (the event store is itself the record of what arrived); "
        "what its handlers change is audited by them, as done by Stripe"
    ),
    "stripe_events.services.event_process": (
        "counts attempts and records the handler's outcome on the stored event; the handlers "
        "audit their changes"
    ),
    "providers.services.gateway_credit_record": (
        "caches whether the balance is above zero for /api/v1/authorize; the ledger entry that "
        "moved the balance is the record"
    ),
    "subscriptions.services.organization_plan_sync": (
        "copies the subscription's seats and plan onto the organization inside a change that "
        "record_change audits"
    ),
    "organizations.services.memberships_touch_activity": (
        "the usage rollup moving members' last-activity time forward: bookkeeping, no one's change"
    ),
    "usage.services.ingest_key_mark_used": "an ingest key's last-use time: bookkeeping",
}


def test_the_analysis_covers_every_apps_services_module():
    names = {p.relative_to(service_writes.ROOT).as_posix() for p in service_modules()}
    assert {
        "audit/services.py",
        "organizations/services.py",
        "usage/services.py",
        "billing/services.py",
        "subscriptions/services.py",
    } <= names


def test_every_public_service_function_that_writes_records_an_audit_event():
    offenders = {
        name: f"{info.module.replace('.', '/')}.py:{info.lineno}"
        for name, info in unaudited_writers(analyse(service_modules())).items()
        if name not in NOT_AUDITED
    }
    assert not offenders, (
        "These service functions change state without audit_record(); record an event (in the "
        f"same transaction) or, if it truly is bookkeeping, say why in NOT_AUDITED: {offenders}"
    )


def test_the_exemption_list_names_only_functions_that_still_write_unaudited():
    flagged = unaudited_writers(analyse(service_modules()))
    stale = sorted(set(NOT_AUDITED) - set(flagged))
    assert not stale, f"Remove these from NOT_AUDITED (gone, or audited now): {stale}"


# --- the analyser itself, on a module written here --------------------------------------------

SAMPLE = """
from audit.services import audit_record
from .models import Thing


def thing_rename(*, actor, thing, name):
    thing.name = name
    thing.save()


def thing_archive(*, actor, thing):
    Thing.objects.filter(pk=thing.pk).update(archived=True)
    _record(actor, thing)


def _record(actor, thing):
    audit_record(actor=actor, action="thing.archived", target=thing)


def thing_touch(thing):
    _bump(thing)


def _bump(thing):
    thing.delete()


def options_merge(options, extra):
    options.update(extra)
    return options


def thing_get(pk):
    return Thing.objects.filter(pk=pk).first()
"""


def test_the_analyser_flags_writers_that_record_nothing_even_through_helpers(tmp_path, monkeypatch):
    app = tmp_path / "things"
    app.mkdir()
    (app / "services.py").write_text(textwrap.dedent(SAMPLE))
    monkeypatch.setattr(service_writes, "ROOT", tmp_path)

    flagged = unaudited_writers(analyse(service_modules()))

    # renames without recording; touch deletes through a private helper. archive records
    # through its helper; a dict's update() and a read are no writes.
    assert sorted(flagged) == ["things.services.thing_rename", "things.services.thing_touch"]
