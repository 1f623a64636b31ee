"""The credit ledger: append-only, idempotent, consistent under concurrency, verifiable."""

import threading
from datetime import date

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, connections, transaction

from billing.ledger import balance_of, ledger_append
from billing.ledger_checks import verify_ledger
from billing.models import BillingAccount, CreditLedgerEntry, LedgerKind, Payment, Refund
from tests.app_role import as_app_role
from usage.models import OrgDailyRollup

DOLLAR = 1_000_000


def append(org, kind, amount, key, **links):  # noqa: ANN001, ANN201
    with transaction.atomic():
        return ledger_append(
            organization=org, kind=kind, amount_microdollars=amount, idempotency_key=key, **links
        )


@pytest.mark.django_db
def test_balance_is_the_sum_and_each_key_counts_once(org):
    append(org, LedgerKind.PROMOTIONAL, 50 * DOLLAR, "promo:1")
    assert append(org, LedgerKind.PROMOTIONAL, 50 * DOLLAR, "promo:1") is None
    append(org, LedgerKind.USAGE, -3 * DOLLAR, "rollup:2026-11-25T10")
    assert balance_of(org) == 47 * DOLLAR
    entries = list(CreditLedgerEntry.objects.filter(organization=org).order_by("id"))
    assert [e.balance_after_microdollars for e in entries] == [50 * DOLLAR, 47 * DOLLAR]
    assert verify_ledger() == []


@pytest.mark.django_db
def test_signs_are_enforced_and_zero_is_refused(org):
    with pytest.raises(ValueError, match="negative"):
        append(org, LedgerKind.USAGE, 5, "bad:1")
    with pytest.raises(ValueError, match="positive"):
        append(org, LedgerKind.PROMOTIONAL, -5, "bad:2")
    with pytest.raises(ValueError):
        append(org, LedgerKind.ADJUSTMENT, 0, "bad:3")
    append(org, LedgerKind.ADJUSTMENT, -5, "ok:adj")  # adjustments go either way


@pytest.mark.django_db(transaction=True)
def test_ledger_append_refuses_to_run_outside_a_transaction(org):
    with pytest.raises(RuntimeError):
        ledger_append(
            organization=org, kind="promotional", amount_microdollars=1, idempotency_key="k"
        )


@pytest.mark.django_db
def test_entries_cannot_be_updated_or_deleted_through_the_orm(org):
    entry = append(org, LedgerKind.PROMOTIONAL, DOLLAR, "promo:immutable")
    entry.description = "changed"
    with pytest.raises(ValidationError):
        entry.save()
    with pytest.raises(ValidationError):
        entry.delete()
    with pytest.raises(ValidationError):
        CreditLedgerEntry.objects.filter(pk=entry.pk).update(description="changed")
    with pytest.raises(ValidationError):
        CreditLedgerEntry.objects.filter(pk=entry.pk).delete()


@pytest.mark.django_db
def test_postgresql_refuses_update_and_delete_even_in_raw_sql(org):
    entry = append(org, LedgerKind.PROMOTIONAL, DOLLAR, "promo:raw")
    for sql in (
        "UPDATE billing_creditledgerentry SET amount_microdollars = 5 WHERE id = %s",
        "DELETE FROM billing_creditledgerentry WHERE id = %s",
    ):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql, [entry.pk])


@pytest.mark.django_db
def test_postgresql_refuses_truncate_to_the_app_role_whatever_the_session_sets(org):
    """Issue 18, finding 7: `SET LOCAL billing.ledger_truncate_allowed = 'on'` emptied the
    ledger from any session. The app's role has no TRUNCATE; a role given it by mistake meets
    the trigger, which has no switch any more."""
    append(org, LedgerKind.PROMOTIONAL, DOLLAR, "promo:truncate")
    with (
        as_app_role(),
        pytest.raises(DatabaseError, match="permission denied"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("TRUNCATE billing_creditledgerentry")
    for statement in (
        "TRUNCATE billing_creditledgerentry",
        "TRUNCATE billing_creditledgerentry CASCADE",
    ):
        with (
            as_app_role(extra_grants=("TRUNCATE ON billing_creditledgerentry",)),
            pytest.raises(DatabaseError, match="append-only .TRUNCATE refused"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute("SET LOCAL billing.ledger_truncate_allowed = 'on'")
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # check the test's inserts' FKs now
            cursor.execute(statement)
    assert CreditLedgerEntry.objects.filter(idempotency_key="promo:truncate").exists()


@pytest.mark.django_db
def test_the_app_role_may_only_insert_ledger_entries(org):
    entry = append(org, LedgerKind.PROMOTIONAL, DOLLAR, "promo:app-role")
    with as_app_role():
        append(org, LedgerKind.PROMOTIONAL, DOLLAR, "promo:app-role-2")
        for sql in (
            "UPDATE billing_creditledgerentry SET amount_microdollars = 5 WHERE id = %s",
            "DELETE FROM billing_creditledgerentry WHERE id = %s",
        ):
            with (
                pytest.raises(DatabaseError, match="permission denied"),
                transaction.atomic(),
                connection.cursor() as cursor,
            ):
                cursor.execute(sql, [entry.pk])
    assert balance_of(org) == 2 * DOLLAR


@pytest.mark.django_db
def test_verify_ledger_command_reports_a_cached_balance_that_drifted(org):
    append(org, LedgerKind.PROMOTIONAL, DOLLAR, "promo:drift")
    call_command("verify_ledger")
    BillingAccount.objects.filter(organization=org).update(balance_microdollars=7)
    with pytest.raises(CommandError):
        call_command("verify_ledger")
    assert "cached balance 7" in verify_ledger()[0].problem


@pytest.mark.django_db
def test_verify_ledger_reports_refunds_above_a_payment_and_purchases_without_their_payment(org):
    """The ledger as issue 8 found it: $12 refunded on a $10 payment, and a purchase credited
    for more than was paid; verify_ledger must say so."""
    payment = Payment.objects.create(
        organization=org,
        purpose="credit_purchase",
        amount_cents=10_00,
        amount_refunded_cents=10_00,
        refund_reserved_cents=10_00,
        stripe_payment_intent_id="pi_verify",
        status="succeeded",
    )
    append(org, LedgerKind.PURCHASE, 10 * DOLLAR, "payment_intent:pi_verify", payment=payment)
    for n in (1, 2):
        refund = Refund.objects.create(
            organization=org,
            payment=payment,
            stripe_id=f"re_verify_{n}",
            amount_cents=6_00,
            state="succeeded",
        )
        append(
            org, LedgerKind.REFUND, -6 * DOLLAR, f"refund:re_v{n}", refund=refund, payment=payment
        )
    other = Payment.objects.create(
        organization=org, purpose="credit_purchase", amount_cents=5_00, status="failed"
    )
    append(org, LedgerKind.PURCHASE, 7 * DOLLAR, "payment_intent:pi_other", payment=other)

    problems = sorted(p.problem for p in verify_ledger())
    assert problems == sorted(
        [
            f"payment {payment.public_id}: refunds 12000000 exceed payment 10000000",
            f"payment {payment.public_id}: refund entries 12000000 != refunded 10000000",
            f"payment {other.public_id}: 1 purchase entries, status failed",
            f"payment {other.public_id}: credited 7000000 for 5000000 paid",
        ]
    )


@pytest.mark.django_db
def test_verify_ledger_reports_a_usage_day_not_debited_exactly_once(org):
    OrgDailyRollup.objects.create(
        organization_id=org.pk, day=date(2026, 10, 3), cost_microdollars=2_500_000
    )
    OrgDailyRollup.objects.create(
        organization_id=org.pk, day=date(2026, 10, 4), cost_microdollars=1_000_000
    )
    append(org, LedgerKind.USAGE, -1_000_000, "day4", usage_day=date(2026, 10, 4))
    append(org, LedgerKind.USAGE, -1_000_000, "day4-again", usage_day=date(2026, 10, 4))
    assert sorted(p.problem for p in verify_ledger()) == [
        "usage on 2026-10-03: rolled up 2500000, debited 0",
        "usage on 2026-10-04: rolled up 1000000, debited 2000000",
    ]


@pytest.mark.django_db(transaction=True)
def test_concurrent_purchases_refunds_and_debits_keep_every_invariant(org):
    """Threads with their own connections hit one organization at once; the account-row lock
    serializes them. A barrier (no sleeps) makes them start together."""
    purchases = []
    for n in range(4):
        refunded = 10_00 if n < 2 else 0  # the first two get a $10 refund below
        payment = Payment.objects.create(
            organization=org,
            purpose="credit_purchase",
            amount_cents=100_00,
            amount_refunded_cents=refunded,
            refund_reserved_cents=refunded,
            stripe_payment_intent_id=f"pi_conc_{n}",
            status="succeeded",
        )
        purchases.append(payment)
    refunds = [
        Refund.objects.create(
            organization=org,
            payment=p,
            stripe_id=f"re_conc_{i}",
            amount_cents=10_00,
            status="succeeded",
        )
        for i, p in enumerate(purchases[:2])
    ]
    jobs = []
    for p in purchases:  # each purchase also delivered twice (duplicate webhook)
        for _ in range(2):
            jobs.append(
                (
                    LedgerKind.PURCHASE,
                    100 * DOLLAR,
                    f"payment_intent:{p.stripe_payment_intent_id}",
                    {"payment_id": p.pk},
                )
            )
    for r in refunds:
        jobs.append(
            (
                LedgerKind.REFUND,
                -10 * DOLLAR,
                f"refund:{r.stripe_id}",
                {"refund_id": r.pk, "payment_id": r.payment_id},
            )
        )
    for n in range(8):
        jobs.append((LedgerKind.USAGE, -(n + 1) * DOLLAR // 4, f"rollup:{n}", {}))
    barrier = threading.Barrier(len(jobs))
    errors: list[BaseException] = []

    def run(kind, amount, key, links):  # noqa: ANN001, ANN202
        try:
            barrier.wait()
            append(org, kind, amount, key, **links)
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=job) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    expected = 4 * 100 * DOLLAR - 2 * 10 * DOLLAR - sum((n + 1) * DOLLAR // 4 for n in range(8))
    assert balance_of(org) == expected
    assert CreditLedgerEntry.objects.filter(organization=org).count() == 4 + 2 + 8
    assert verify_ledger() == []
