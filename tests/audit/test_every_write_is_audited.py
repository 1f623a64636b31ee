"""Every public function of the apps that changes state records an audit event.

The apps' modules (services, and the sync, ledger, rollup, maintenance, view and task modules
beside them) are analysed statically (see tests/audit/service_writes.py for how and why). A new
public function that saves, creates, updates or deletes without calling audit_record (directly
or through a function it calls) fails here. The few that write on
purpose without an event are listed with the reason; the list cannot go stale.
"""

import textwrap

from tests.audit import service_writes
from tests.audit.service_writes import analyse, service_modules, unaudited_writers

# qualified name -> why it changes state without an audit event of its own. Grouped by why:
# (1) a helper whose callers audit the change; (2) a store that is itself the record; (3)
# derived data and bookkeeping, recomputed from records that are audited or kept elsewhere.
NOT_AUDITED = {
    # (1) the callers audit
    "billing.services.customer_ensure": (
        "creates the local mirror of the organization's Stripe customer on first use; the change "
        "that needed it (details, card, payment) is audited by its caller"
    ),
    "billing.services.card_setup_start": (
        "only starts a Stripe SetupIntent (and the customer mirror); the card itself is added, "
        "and audited, by card_add_from_setup_intent (or, from Stripe, payment_method_sync)"
    ),
    "billing.sync.mirror_card": (
        "copies a card's brand/last4/expiry from Stripe; card_add_from_setup_intent and "
        "payment_method_sync, its two callers, audit the card added or changed"
    ),
    "subscriptions.services.organization_plan_sync": (
        "copies the subscription's seats and plan onto the organization inside a change that "
        "record_change audits"
    ),
    "billing.seat_charges.seat_charge_record": (
        "the receipt of a paid seat change, written inside the subscription change that "
        "record_change audits"
    ),
    "billing.balance.ledger_post": (
        "a credit-ledger entry: the append-only ledger is itself the record of money moved "
        "(each entry has its idempotency key, time and author); the purchase, refund or "
        "promotion that posts it is audited by its caller"
    ),
    "billing.balance.ledger_post_many": "as ledger_post, for several entries at once",
    "billing.ledger.ledger_append": "the ledger primitive under ledger_post (see there)",
    "billing.ledger.ledger_append_many": "the ledger primitive under ledger_post_many",
    "billing.ledger.account_for": (
        "creates the organization's cached-balance row on first use (derived from the ledger)"
    ),
    "billing.ledger.lock_account": "locks (creating on first use) the cached-balance row",
    "billing.balance.balance_changed": (
        "follows a balance move inside the ledger write: the low-balance alert's 'alerted' flag "
        "and the gateway's credit cache; the alert email and the auto top-up it may start are "
        "audited where they change settings or take payments"
    ),
    # (2) stores that are the record
    "stripe_events.services.event_receive": (
        "stores a Stripe event by id (the event store is itself the record of what arrived); "
        "what its handlers change is audited by them, as done by Stripe"
    ),
    "stripe_events.services.event_process": (
        "counts attempts and records the handler's outcome on the stored event; the handlers "
        "audit their changes"
    ),
    "stripe_events.replay.events_replay": (
        "receives missed events through event_receive and replays failed ones"
    ),
    "stripe_events.replay.failed_events_replay": (
        "counts the hourly replays on the stored event and runs event_process; the handlers "
        "audit their changes (staff's retry, stripe_events.services.event_retry, is audited)"
    ),
    "billing.sync.invoice_sync": (
        "mirrors Stripe's invoice documents (number, status, amounts, link) for the Billing "
        "tab; what an invoice means for the organization (a renewal paid, a payment failed) is "
        "audited by the subscription handlers that run after it for the same event"
    ),
    "usage.api.post_usage_events": (
        "ingests usage events: the raw events are the data itself (millions a day), not a change "
        "of the organization's settings; creating and revoking the ingest keys is audited"
    ),
    "billing.documents.receipt_request": (
        "numbers the receipt of a payment inside the transaction that records the payment "
        "(audited as billing.payment_succeeded); downloads are audited"
    ),
    "billing.documents.statement_request": (
        "the monthly statement, a document derived from the ledger; downloads are audited"
    ),
    "billing.documents.document_render": (
        "renders a requested document's PDF once and stores it (issued documents never change)"
    ),
    # (3) derived data and bookkeeping
    "providers.services.gateway_credit_record": (
        "caches whether the balance is above zero for /api/v1/authorize; the ledger entry that "
        "moved the balance is the record"
    ),
    "organizations.services.memberships_touch_activity": (
        "the usage rollup moving members' last-activity time forward: bookkeeping, no one's change"
    ),
    "usage.services.ingest_key_mark_used": "an ingest key's last-use time: bookkeeping",
    "usage.rollup.rollup_run": (
        "merges raw usage events into the rollup tables the Usage tab reads: derived data"
    ),
    "usage.rollup.rollup_until_caught_up": "runs rollup_run until caught up",
    "usage.partitions.prune_ingested_requests": (
        "drops de-duplication keys older than the usage retention: bookkeeping"
    ),
    "billing.usage_debits.usage_debits_post": (
        "posts the rolled-up usage cost of a day to the credit ledger (the ledger entry, keyed by "
        "organization and day, is the record; one audit row per minute per organization would "
        "bury every change a person made)"
    ),
    "billing.usage_debits.usage_debits_post_all": "usage_debits_post for every organization",
    "billing.usage_debits.usage_debits_post_recent": "usage_debits_post for the recent days",
    "audit.maintenance.counts_rebuild": (
        "recounts the audit log's own day counts from its events (derived data)"
    ),
    "audit.maintenance.counts_follow_time_zone": "counts_rebuild after a time-zone change",
    "audit.maintenance.verify_organization": (
        "stores the outcome of a chain verification (ChainCheck, shown on the tab): the check "
        "is itself a record, and writing an audit event for it would extend the chain it checks"
    ),
}


def test_the_analysis_covers_every_apps_services_module():
    names = {p.relative_to(service_writes.ROOT).as_posix() for p in service_modules()}
    assert {
        "audit/services.py",
        "audit/maintenance.py",
        "organizations/services.py",
        "organizations/invitations.py",
        "usage/services.py",
        "usage/rollup.py",
        "billing/services.py",
        "billing/sync.py",
        "billing/refunds.py",
        "billing/views.py",
        "subscriptions/services.py",
        "subscriptions/sync.py",
        "sso/services/__init__.py",
        "sso/services/saml.py",
        "providers/services.py",
        "stripe_events/services.py",
        "stripe_events/tasks.py",
    } <= names
    assert not any(name.endswith(("/models.py", "/demo.py")) for name in names)


def test_every_public_service_function_that_writes_records_an_audit_event():
    offenders = {
        name: f"{info.module.replace('.', '/')}.py:{info.lineno}"
        for name, info in unaudited_writers(
            analyse(service_modules()), exempt=frozenset(NOT_AUDITED)
        ).items()
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
    (app / "apps.py").write_text("")
    (app / "services.py").write_text(textwrap.dedent(SAMPLE))
    (app / "models.py").write_text("def not_analysed(thing):\n    thing.save()\n")
    (app / "views.py").write_text(
        "from .services import thing_rename\n\n\ndef rename(request, thing):\n"
        "    thing_rename(actor=None, thing=thing, name='x')\n"
    )
    monkeypatch.setattr(service_writes, "ROOT", tmp_path)

    flagged = unaudited_writers(analyse(service_modules()))

    # renames without recording; touch deletes through a private helper; the view renames
    # through the service. archive records through its helper; a dict's update() and a read
    # are no writes; models.py is not analysed.
    assert sorted(flagged) == [
        "things.services.thing_rename",
        "things.services.thing_touch",
        "things.views.rename",
    ]
    # An exempted function's writes do not make its callers writers.
    exempt = frozenset({"things.services.thing_rename"})
    assert sorted(unaudited_writers(analyse(service_modules()), exempt=exempt)) == [
        "things.services.thing_touch"
    ]
