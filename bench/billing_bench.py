"""Billing benchmarks (`make bench-billing`): PDF render p95 (warm), the monthly statement run for
1,000 organizations, and the webhook endpoint's p99 (verify, store, enqueue).

Runs against a scratch PostgreSQL database (created and dropped here) and Redis as the Celery
broker, like production; prints one line per measurement and appends nothing anywhere.
Usage: DJANGO_ENV=test DATABASE_URL=postgres://... REDIS_URL=redis://... \
       .venv/bin/python bench/billing_bench.py [--orgs 1000] [--pdf-runs 40] [--webhooks 500]
"""

import argparse
import io
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kilo_dashboard.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402
from pypdf import PdfReader  # noqa: E402


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def make_org(n: int):  # noqa: ANN201
    from organizations.models import Organization

    return Organization.objects.create(
        slug=f"bench-{n}", name=f"Bench Org {n}", time_zone="Europe/Berlin", seat_count=10
    )


def fill_ledger(org, entries: int) -> None:  # noqa: ANN001
    from billing.ledger import ledger_append

    with transaction.atomic():
        ledger_append(
            organization=org,
            kind="promotional",
            amount_microdollars=500_000_000,
            idempotency_key=f"bench:{org.pk}:promo",
            description="Promotion code BENCH",
        )
        for i in range(entries):
            ledger_append(
                organization=org,
                kind="usage",
                amount_microdollars=-(1_000 + i * 37),
                idempotency_key=f"bench:{org.pk}:u{i}",
                description=f"Usage {i % 24:02d}:00-{(i % 24) + 1:02d}:00 · model {i % 7}",
            )


def bench_pdf(runs: int) -> dict:
    from billing import documents
    from billing.models import Document, DocumentKind, Payment

    org = make_org(0)
    fill_ledger(org, 60)  # a 3-page statement
    start = django.utils.timezone.now().date().replace(day=1)
    statement = Document.objects.create(
        organization=org,
        kind=DocumentKind.STATEMENT,
        sequence=1,
        period_start=start,
        period_end=(start + timedelta(days=32)).replace(day=1),
    )
    payment = Payment.objects.create(
        organization=org,
        purpose="credit_purchase",
        amount_cents=500_00,
        status="succeeded",
        stripe_payment_intent_id="pi_bench",
    )
    receipt = Document.objects.create(
        organization=org, kind=DocumentKind.RECEIPT, sequence=2, payment=payment
    )
    results = {}
    for label, document in (("receipt", receipt), ("statement", statement)):
        documents.render_pdf(document)  # warm: fonts, templates
        timings = []
        for _ in range(runs):
            t0 = time.perf_counter()
            pdf = documents.render_pdf(document)
            timings.append(time.perf_counter() - t0)
        pages = len(PdfReader(io.BytesIO(pdf)).pages)
        results[label] = (percentile(timings, 95), statistics.median(timings), pages)
    return results


def bench_statement_run(orgs: int) -> tuple[float, int]:
    from billing.models import Document
    from billing.tasks import issue_monthly_statements
    from kilo_dashboard.celery import app
    from organizations.models import Organization

    for n in range(1, orgs + 1):
        fill_ledger(make_org(n), 10)
    Organization.objects.update(created_at=django.utils.timezone.now() - timedelta(days=90))
    app.conf.task_always_eager = True  # the worker renders in-process: one worker's throughput
    t0 = time.perf_counter()
    issue_monthly_statements()
    elapsed = time.perf_counter() - t0
    app.conf.task_always_eager = False
    return elapsed, Document.objects.filter(kind="statement", issued_at__isnull=False).count()


def bench_webhook(count: int) -> tuple[float, float]:
    from django.test import Client

    from kilo_dashboard.celery import app
    from tests.billing.conftest import sign

    app.conf.task_always_eager = False  # enqueue to Redis, as in production
    client = Client()
    timings = []
    warmup = 20  # first requests pay for imports, URL resolver, Redis connection
    for i in range(count + warmup):
        event = {
            "id": f"evt_bench_{i}",
            "object": "event",
            "type": "payment_intent.succeeded",
            "created": int(time.time()),
            "api_version": settings.STRIPE_API_VERSION,
            "data": {"object": {"id": f"pi_bench_{i}", "object": "payment_intent"}},
        }
        payload = json.dumps(event).encode()
        t0 = time.perf_counter()
        response = client.post(
            "/stripe/webhook/",
            data=payload,
            content_type="application/json",
            HTTP_STRIPE_SIGNATURE=sign(payload),
        )
        if i >= warmup:
            timings.append(time.perf_counter() - t0)
        if response.status_code != 200:
            raise RuntimeError(response.content)
    app.control.purge()
    return percentile(timings, 99), statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orgs", type=int, default=1000)
    parser.add_argument("--pdf-runs", type=int, default=40)
    parser.add_argument("--webhooks", type=int, default=500)
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("Run against PostgreSQL: DJANGO_ENV=test DATABASE_URL=postgres://...")
    settings.MEDIA_ROOT = tempfile.mkdtemp(prefix="kilo-bench-media-")
    setup_test_environment()
    old_name = settings.DATABASES["default"]["NAME"]
    settings.DATABASES["default"]["TEST"].update(NAME="kilo_bench_billing")
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        pdf = bench_pdf(args.pdf_runs)
        for label, (p95, median, pages) in pdf.items():
            print(
                f"pdf {label}: {pages} page(s), p95 {p95 * 1000:.0f} ms, median {median * 1000:.0f} ms (warm, {args.pdf_runs} runs; budget 1000 ms)"
            )
        p99, median = bench_webhook(args.webhooks)
        print(
            f"webhook: p99 {p99 * 1000:.1f} ms, median {median * 1000:.1f} ms ({args.webhooks} signed events: verify, store, enqueue to Redis; budget 100 ms)"
        )
        elapsed, issued = bench_statement_run(args.orgs)
        print(
            f"monthly statements: {issued} issued for {args.orgs} orgs in {elapsed:.1f} s ({elapsed / max(issued, 1) * 1000:.0f} ms each, one worker; budget 600 s)"
        )
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
