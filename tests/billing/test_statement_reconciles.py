"""Monthly statements reconcile, line by line, with their own usage tables (issue 8, item 8).

Three months of usage for Acme (America/New_York, which leaves daylight time on 1 November),
rolled up as it arrives and debited late (after each month ended, some events later still).
Every figure of the September, October and November statements is compared with values
added up by hand from the events and credits below; September opens with a non-zero balance.
"""

from datetime import UTC, date, datetime

import pytest
import time_machine
from django.db import transaction

from billing import documents, usage_debits
from billing.balance import ledger_post
from billing.ledger import balance_of
from billing.ledger_checks import verify_ledger
from billing.models import Document, DocumentKind, LedgerKind, Payment, Refund
from tests.usage.conftest import make_event
from usage.ingest import ingest_events
from usage.rollup import rollup_until_caught_up

pytestmark = pytest.mark.django_db
OLIVIA, MEI = "owner@acme.test", "member@acme.test"


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def events_arrive(org, *events: tuple[str, str, int]) -> None:  # noqa: ANN001
    """(UTC time, member email, cost in microdollars), ingested and rolled up now."""
    result = ingest_events(
        organization_id=org.pk,
        events=[
            make_event(occurred_at=utc(when), user_email=email, cost_microdollars=cost)
            for when, email, cost in events
        ],
    )
    assert result.rejected == 0, result.errors
    rollup_until_caught_up()


def credit(org, kind: str, amount: int, key: str, **links) -> None:  # noqa: ANN001, ANN003
    with transaction.atomic():
        ledger_post(
            organization=org, kind=kind, amount_microdollars=amount, idempotency_key=key, **links
        )


def statement(org, start: date, end: date) -> dict:  # noqa: ANN001
    document = Document(
        organization=org, kind=DocumentKind.STATEMENT, sequence=1, period_start=start,
        period_end=end,
    )  # fmt: skip
    return documents.statement_context(document)


def by_member(context: dict) -> dict[str, tuple[int, int]]:
    return {
        row["name"]: (row["requests"], row["cost_microdollars"])
        for row in context["usage_breakdown"]["by_member"]
    }


def test_three_monthly_statements_reconcile_every_figure(org, owner, member):
    org.time_zone = "America/New_York"
    org.save(update_fields=["time_zone"])
    with time_machine.travel(utc("2026-08-10T15:00:00"), tick=False) as clock:
        credit(org, LedgerKind.PROMOTIONAL, 100_000_000, "promo:august")
        clock.move_to(utc("2026-08-25T12:00:00"))
        events_arrive(org, ("2026-08-20T14:00:00", MEI, 5_000_000))
        clock.move_to(utc("2026-09-02T10:00:00"))
        usage_debits.usage_debits_post()  # August's usage, debited in September

        clock.move_to(utc("2026-09-20T12:00:00"))
        events_arrive(
            org,
            ("2026-09-01T04:30:00", OLIVIA, 1_234_567),  # 1 Sep 00:30 in New York
            ("2026-09-15T14:00:00", MEI, 2_000_000),
            ("2026-09-15T16:00:00", MEI, 3_100_000),
        )
        clock.move_to(utc("2026-10-01T03:45:00"))
        events_arrive(org, ("2026-10-01T03:30:00", OLIVIA, 500_000))  # 30 Sep 23:30 local
        clock.move_to(utc("2026-10-02T12:00:00"))
        usage_debits.usage_debits_post()  # September's usage, debited in October
        payment = Payment.objects.create(
            organization=org,
            purpose="credit_purchase",
            amount_cents=50_00,
            amount_refunded_cents=10_00,
            refund_reserved_cents=10_00,
            stripe_payment_intent_id="pi_statement",
            status="succeeded",
        )
        credit(org, LedgerKind.PURCHASE, 50_000_000, "payment_intent:pi_statement", payment=payment)
        clock.move_to(utc("2026-10-05T12:00:00"))
        events_arrive(org, ("2026-09-15T18:00:00", MEI, 400_000))  # a late September event
        usage_debits.usage_debits_post()

        clock.move_to(utc("2026-10-20T12:00:00"))
        events_arrive(
            org,
            ("2026-10-01T04:10:00", MEI, 700_000),  # 1 Oct 00:10 local
            ("2026-10-19T15:00:00", OLIVIA, 2_500_000),
        )
        refund = Refund.objects.create(
            organization=org, payment=payment, stripe_id="re_statement", amount_cents=10_00,
            state="succeeded", status="succeeded",
        )  # fmt: skip
        credit(org, LedgerKind.REFUND, -10_000_000, "refund:re_statement", refund=refund,
               payment=payment)  # fmt: skip

        clock.move_to(utc("2026-11-01T07:00:00"))
        events_arrive(
            org,
            ("2026-11-01T03:30:00", OLIVIA, 900_000),  # 31 Oct 23:30 EDT
            ("2026-11-01T05:30:00", MEI, 600_000),  # 1 Nov 01:30 EDT
        )
        clock.move_to(utc("2026-11-15T12:00:00"))
        events_arrive(org, ("2026-11-14T15:00:00", OLIVIA, 1_111_111))
        credit(org, LedgerKind.PROMOTIONAL, 20_000_000, "promo:november")
        clock.move_to(utc("2026-12-01T04:45:00"))
        events_arrive(org, ("2026-12-01T04:30:00", MEI, 222_222))  # 30 Nov 23:30 EST
        clock.move_to(utc("2026-12-03T09:00:00"))
        usage_debits.usage_debits_post()  # October's and November's usage, debited in December

        september = statement(org, date(2026, 9, 1), date(2026, 10, 1))
        october = statement(org, date(2026, 10, 1), date(2026, 11, 1))
        november = statement(org, date(2026, 11, 1), date(2026, 12, 1))

    # Hand-computed. September: opening = $100 promotion - $5 of August usage.
    # Usage: 1.234567 + 2 + 3.1 + 0.5 + 0.4 (late) = 7.234567.
    assert _figures(september) == {
        "opening": 95_000_000,
        "purchased": 0,
        "promotional": 0,
        "refunded": 0,
        "adjusted": 0,
        "used": -7_234_567,
        "closing": 87_765_433,
    }
    assert by_member(september) == {"Olivia Owens": (2, 1_734_567), "Mei Martinez": (3, 5_500_000)}
    # October: +$50 bought, -$10 refunded, usage 0.7 + 2.5 + 0.9 (31 Oct local) = 4.1
    assert _figures(october) == {
        "opening": 87_765_433,
        "purchased": 50_000_000,
        "promotional": 0,
        "refunded": -10_000_000,
        "adjusted": 0,
        "used": -4_100_000,
        "closing": 123_665_433,
    }
    assert by_member(october) == {"Olivia Owens": (2, 3_400_000), "Mei Martinez": (1, 700_000)}
    # November: +$20 promotion, usage 0.6 + 1.111111 + 0.222222 (30 Nov local) = 1.933333
    assert _figures(november) == {
        "opening": 123_665_433,
        "purchased": 0,
        "promotional": 20_000_000,
        "refunded": 0,
        "adjusted": 0,
        "used": -1_933_333,
        "closing": 141_732_100,
    }
    assert by_member(november) == {"Olivia Owens": (1, 1_111_111), "Mei Martinez": (2, 822_222)}

    for context in (september, october, november):
        members_total = sum(cost for _, cost in by_member(context).values())
        assert context["used"] == -members_total  # the Usage line is its own table's total
        activity = context["activity"]
        assert activity[-1]["balance_microdollars"] == context["closing"]
        assert activity[0]["balance_microdollars"] == (
            context["opening"] + activity[0]["entry"].amount_microdollars
        )
    assert balance_of(org) == 141_732_100
    assert verify_ledger() == []


def _figures(context: dict) -> dict[str, int]:
    names = ("opening", "purchased", "promotional", "refunded", "adjusted", "used", "closing")
    return {name: context[name] for name in names}
