"""Refunds: locked, capped by the payment (also in the database), idempotent, recoverable.

Stripe here is localstripe, which does not itself refuse refunds above the charge: every cap
seen below is ours. Stripe's refunds are read straight from localstripe's API.
"""

import threading
from datetime import timedelta

import pytest
import requests
from django.conf import settings
from django.db import IntegrityError, connections, transaction

from audit.models import AuditEvent
from billing import refunds, stripe_gateway, tasks
from billing.ledger import balance_of
from billing.ledger_checks import verify_ledger
from billing.models import CreditLedgerEntry, Payment, Refund, RefundState
from tests.billing.conftest import add_card, deliver, fake_event
from tests.billing.test_purchase_flow import buy, succeeded_event
from tests.conftest import actor

pytestmark = pytest.mark.django_db(transaction=True)
DOLLAR = 1_000_000


def paid(org, owner, cents: int = 10_00) -> Payment:  # noqa: ANN001
    add_card(org, owner)
    payment = buy(org, owner, cents)
    assert deliver(succeeded_event(payment)).status_code == 200
    payment.refresh_from_db()
    assert payment.status == "succeeded"
    return payment


def stripe_refunds(payment: Payment) -> list[dict]:
    """What Stripe (localstripe) holds, asked directly."""
    response = requests.get(
        f"{settings.STRIPE_API_BASE}/v1/refunds",
        params={"payment_intent": payment.stripe_payment_intent_id, "limit": 100},
        headers={"Authorization": f"Bearer {settings.STRIPE_SECRET_KEY}"},
        timeout=10,
    )
    return response.json()["data"]


def ledger_refunds(org) -> list[int]:  # noqa: ANN001
    return list(
        CreditLedgerEntry.objects.filter(organization=org, kind="refund")
        .order_by("id")
        .values_list("amount_microdollars", flat=True)
    )


def test_five_concurrent_refunds_never_refund_more_than_the_payment(org, owner):
    """Five callers ask for $3 each of a $10 payment at the same moment (a barrier, own
    connections): three fit ($9), two are refused, in Stripe and in the ledger alike."""
    payment = paid(org, owner, 10_00)
    barrier = threading.Barrier(5)
    results: list[Refund] = []
    refused: list[str] = []
    unexpected: list[BaseException] = []

    def ask(n: int) -> None:
        try:
            barrier.wait()
            results.append(
                refunds.payment_refund(
                    actor=actor(None), payment=payment, amount_cents=3_00, request_key=f"r{n}"
                )
            )
        except refunds.RefundError as error:
            refused.append(str(error))
        except BaseException as error:  # noqa: BLE001 - reported below
            unexpected.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=ask, args=(n,)) for n in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert unexpected == []
    assert len(results) == 3 and len(refused) == 2
    assert all(r.state == RefundState.SUCCEEDED for r in results)
    assert all("$1.00" in message for message in refused)  # $10 - 3 x $3 was left
    assert sorted(r["amount"] for r in stripe_refunds(payment)) == [3_00, 3_00, 3_00]
    assert ledger_refunds(org) == [-3 * DOLLAR] * 3
    assert balance_of(org) == 1 * DOLLAR
    payment.refresh_from_db()
    assert payment.amount_refunded_cents == payment.refund_reserved_cents == 9_00
    assert verify_ledger() == []


def test_five_concurrent_full_refunds_refund_once(org, owner):
    payment = paid(org, owner, 10_00)
    barrier = threading.Barrier(5)
    outcomes: list[str] = []

    def ask(n: int) -> None:
        try:
            barrier.wait()
            refunds.payment_refund(
                actor=actor(None), payment=payment, amount_cents=10_00, request_key=f"all{n}"
            )
            outcomes.append("refunded")
        except refunds.RefundError:
            outcomes.append("refused")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=ask, args=(n,)) for n in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["refunded"] + ["refused"] * 4
    assert [r["amount"] for r in stripe_refunds(payment)] == [10_00]
    assert ledger_refunds(org) == [-10 * DOLLAR]
    assert balance_of(org) == 0


def test_a_replayed_request_returns_the_first_refund_and_refunds_once(org, owner):
    payment = paid(org, owner, 20_00)
    first = refunds.payment_refund(
        actor=actor(owner), payment=payment, amount_cents=5_00, request_key="req-1"
    )
    again = refunds.payment_refund(
        actor=actor(owner), payment=payment, amount_cents=5_00, request_key="req-1"
    )
    assert again.pk == first.pk and again.stripe_id == first.stripe_id
    assert len(stripe_refunds(payment)) == 1
    assert ledger_refunds(org) == [-5 * DOLLAR]
    with pytest.raises(refunds.RefundError, match="different refund"):
        refunds.payment_refund(
            actor=actor(owner), payment=payment, amount_cents=6_00, request_key="req-1"
        )
    assert AuditEvent.objects.filter(action="billing.refund_requested").count() == 1
    assert AuditEvent.objects.filter(action="billing.refund_recorded").count() == 1


def test_the_database_refuses_a_refund_total_above_the_payment(org, owner):
    payment = paid(org, owner, 10_00)
    with pytest.raises(IntegrityError), transaction.atomic():
        Payment.objects.filter(pk=payment.pk).update(refund_reserved_cents=10_01)
    with pytest.raises(IntegrityError), transaction.atomic():
        Payment.objects.filter(pk=payment.pk).update(amount_refunded_cents=1)  # above reserved


def test_a_refund_stripe_refuses_releases_its_reservation(org, owner):
    payment = paid(org, owner, 10_00)
    # Stripe no longer knows the payment (404): a final refusal, not a network failure.
    Payment.objects.filter(pk=payment.pk).update(stripe_payment_intent_id="pi_gone")
    payment.refresh_from_db()
    with pytest.raises(refunds.RefundError):
        refunds.payment_refund(
            actor=actor(owner), payment=payment, amount_cents=4_00, request_key="refused"
        )
    refund = Refund.objects.get(request_key="refused")
    payment.refresh_from_db()
    assert refund.state == RefundState.RELEASED and refund.failure_reason
    assert payment.refund_reserved_cents == 0 and payment.amount_refunded_cents == 0
    assert ledger_refunds(org) == []
    assert AuditEvent.objects.filter(action="billing.refund_released").count() == 1


def test_an_intent_left_after_stripe_refunded_is_finished_without_a_second_refund(org, owner):
    """The process died after Stripe made the refund and before it was recorded: the beat
    task finds the refund by the intent's id in Stripe and records it once."""
    payment = paid(org, owner, 10_00)
    refund = refunds._reserve(actor=actor(owner), payment=payment, amount_cents=4_00, key="k1")
    stripe_gateway.refund_create_for_intent(
        payment_intent_id=payment.stripe_payment_intent_id,
        amount_cents=4_00,
        intent_ref=str(refund.public_id),
        idempotency_key=refund.stripe_idempotency_key,
    )
    # and one whose process died before Stripe was called at all
    refunds._reserve(actor=actor(owner), payment=payment, amount_cents=1_00, key="k2")
    assert ledger_refunds(org) == []

    assert refunds.refunds_finish_stale(older_than=timedelta(0)) == {
        "succeeded": 2,
        "released": 0,
        "waiting": 0,
    }
    assert sorted(r["amount"] for r in stripe_refunds(payment)) == [1_00, 4_00]
    assert sorted(ledger_refunds(org)) == [-4 * DOLLAR, -1 * DOLLAR]
    assert refunds.refunds_finish_stale(older_than=timedelta(0))["succeeded"] == 0  # done
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "billing.tasks.finish_refunds" in scheduled
    assert tasks.finish_refunds() == {"succeeded": 0, "released": 0, "waiting": 0}
    assert len(stripe_refunds(payment)) == 2
    assert verify_ledger() == []


def test_a_refund_made_in_stripes_dashboard_is_recorded_from_charge_refunded(org, owner):
    payment = paid(org, owner, 10_00)
    made = requests.post(
        f"{settings.STRIPE_API_BASE}/v1/refunds",
        data={"payment_intent": payment.stripe_payment_intent_id, "amount": 2_50},
        headers={"Authorization": f"Bearer {settings.STRIPE_SECRET_KEY}"},
        timeout=10,
    ).json()
    event = fake_event("charge.refunded", made["charge"])
    assert deliver(event).status_code == 200
    assert ledger_refunds(org) == [-2_500_000]
    payment.refresh_from_db()
    assert payment.amount_refunded_cents == payment.refund_reserved_cents == 2_50
    assert deliver(fake_event("charge.refunded", made["charge"], "evt_again")).status_code == 200
    assert ledger_refunds(org) == [-2_500_000]  # a second delivery records nothing new
    # what is left to refund through the dashboard is $7.50
    with pytest.raises(refunds.RefundError, match=r"\$7\.50"):
        refunds.payment_refund(
            actor=actor(owner), payment=payment, amount_cents=7_51, request_key="over"
        )
