"""Providers tab p95 (full catalog, filters applied) and POST /api/v1/authorize p99.

`make bench-providers` runs it on its own PostgreSQL database (BENCH_PROVIDERS_DATABASE_URL,
created and migrated when missing) with the Redis cache of REDIS_URL (local memory without it).

Method:
- The bundled catalog is synced (147 providers, 5,276 models). An Enterprise organization with
  50 members, a model policy (a provider wildcard allow list, 300 exact denies, new models off),
  the code-training opt-out on, 30 days of model rollups for 40 models, and credit.
- Tab: Django's test client in-process (server time: routing, access gate, snapshot, SQL
  filters and sort, template), an owner cycling through 8 filter/sort combinations (policy
  facts, modalities, price, context, search, usage sort, page 3), 10 warm-ups then
  BENCH_PROVIDERS_TAB_REQUESTS measured; p50/p95/max and queries per request. Also "cold":
  the organization's gate version replaced before every request (as after a policy change).
- Authorize: the same client posting {"user_email", "model"} with an ingest key, cycling through
  allowed, denied, opted-out and non-member answers; 50 warm-ups then
  BENCH_PROVIDERS_AUTHORIZE_REQUESTS measured; p50/p99/max. Also after each invalidation.
"""

import json
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlparse

import psycopg

ROOT = Path(__file__).resolve().parent.parent
URL = os.environ.get(
    "BENCH_PROVIDERS_DATABASE_URL", "postgres://postgres:postgres@127.0.0.1:5432/kilo_bench_prov"
)
TAB_REQUESTS = int(os.environ.get("BENCH_PROVIDERS_TAB_REQUESTS", "200"))
AUTHORIZE_REQUESTS = int(os.environ.get("BENCH_PROVIDERS_AUTHORIZE_REQUESTS", "3000"))
COLD_REQUESTS = 30


def ensure_database(url: str) -> None:
    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    admin = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def setup_django() -> None:
    ensure_database(URL)
    os.environ["DATABASE_URL"] = URL
    os.environ["DJANGO_ENV"] = "development"
    os.environ["DEBUG"] = "false"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kilo_dashboard.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, round(fraction * len(ordered)) - 1)]


def check(response, *statuses: int) -> None:  # noqa: ANN001
    if response.status_code not in statuses:
        raise SystemExit(f"Unexpected {response.status_code}: {response.content[:300]!r}")


def summary(values: list[float], queries: list[int] | None = None) -> dict:
    result = {
        "requests": len(values),
        "p50_ms": round(statistics.median(values), 2),
        "p95_ms": round(percentile(values, 0.95), 2),
        "p99_ms": round(percentile(values, 0.99), 2),
        "max_ms": round(max(values), 2),
    }
    if queries:
        result["queries_per_request"] = max(queries)
    return result


def build_world():  # noqa: ANN201
    from django.db import transaction
    from django.utils import timezone

    from accounts.models import User
    from audit.services import Actor
    from billing.ledger import ledger_append
    from organizations.models import Membership, Organization, Plan, Role
    from providers.catalog_sync import catalog_sync
    from providers.models import CatalogModel, ModelPolicy
    from usage.models import ModelDailyRollup
    from usage.services import ingest_key_create

    print("sync:", catalog_sync().message[:120], flush=True)
    org, _ = Organization.objects.update_or_create(
        slug="bench-providers",
        defaults={"name": "Bench Providers", "plan": Plan.ENTERPRISE, "seat_count": 60},
    )
    owner = None
    for n in range(50):
        user, _ = User.objects.get_or_create(email=f"dev{n}@bench.test", defaults={"name": f"D{n}"})
        role = Role.OWNER if n == 0 else Role.MEMBER
        Membership.objects.get_or_create(organization=org, user=user, defaults={"role": role})
        owner = owner or user
    keys = list(
        CatalogModel.objects.filter(removed_at__isnull=True)
        .order_by("pk")
        .values_list("provider__slug", "model_id")
    )
    allow = ["anthropic/*", "openai/*", "google/*", "mistral/*", "openrouter/*", "amazon-bedrock/*"]
    denies = [f"{p}/{m}" for p, m in keys if p == "openrouter"][:300]
    now = timezone.now().isoformat()
    ModelPolicy.objects.update_or_create(
        organization=org,
        defaults={
            "allow": [{"rule": r, "added_at": now} for r in allow],
            "deny": [{"rule": r, "added_at": now} for r in denies],
            "allow_new_models": False,
            "new_models_frozen_at": timezone.now(),
        },
    )
    today = timezone.now().date()
    ModelDailyRollup.objects.filter(organization_id=org.pk).delete()
    ModelDailyRollup.objects.bulk_create(
        ModelDailyRollup(
            organization_id=org.pk,
            day=today - timedelta(days=d),
            provider=p,
            model=m,
            requests=10 + i,
            cost_microdollars=1000 * (i + 1),
        )
        for d in range(30)
        for i, (p, m) in enumerate(keys[:40])
    )
    with transaction.atomic():
        ledger_append(
            organization=org,
            kind="promotional",
            amount_microdollars=1_000_000_000,
            idempotency_key=f"bench-providers-credit-{org.pk}",
        )
    _, secret = ingest_key_create(actor=Actor(user=owner), organization=org, name="bench")
    return org, owner, secret


TAB_QUERIES = (
    "",
    "trains=no&retains=no&status=",
    "in=image&out=text&max_input_price=2&sort=price",
    "min_context=200000&sort=context&open_weights=no",
    "q=claude&sort=release",
    "hq=US&publishes=no&sort=usage",
    "trains=no&in=image&sort=spend&page=3",
    "status=allowed&max_output_price=10&sort=-price",
)


def bench_tab(org, owner) -> dict:  # noqa: ANN001
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from organizations.gate import gate_changed

    client = Client()
    client.force_login(owner)
    base = f"/orgs/{org.slug}/providers/?"
    for n in range(10):
        check(client.get(base + TAB_QUERIES[n % len(TAB_QUERIES)]), 200)
    warm, cpu, queries = [], [], []
    for n in range(TAB_REQUESTS):
        with CaptureQueriesContext(connection) as captured:
            began, began_cpu = time.perf_counter(), time.process_time()
            response = client.get(base + TAB_QUERIES[n % len(TAB_QUERIES)])
            warm.append((time.perf_counter() - began) * 1000)
            cpu.append((time.process_time() - began_cpu) * 1000)
        check(response, 200)
        queries.append(len(captured))
    cold = []
    for n in range(COLD_REQUESTS):
        gate_changed(org.pk)
        began = time.perf_counter()
        client.get(base + TAB_QUERIES[n % len(TAB_QUERIES)])
        cold.append((time.perf_counter() - began) * 1000)
    return {
        "warm": summary(warm, queries),
        "warm_cpu_of_this_process": summary(cpu),
        "after_policy_change": summary(cold),
    }


def bench_authorize(org, secret) -> dict:  # noqa: ANN001
    from django.test import Client

    from organizations.gate import gate_changed

    client = Client()
    bodies = [
        json.dumps({"user_email": f"dev{n % 50}@bench.test", "model": model})
        for n, model in enumerate(
            [
                "anthropic/claude-sonnet-4-5",  # allowed
                "deepseek/deepseek-chat",  # not in the allow list
                "google/gemini-2.5-pro",  # opted out (unknown policy)
                "openai/gpt-5",
            ]
        )
    ] + [json.dumps({"user_email": "stranger@else.test", "model": "openai/gpt-5"})]
    headers = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}

    cpu: list[float] = []

    def call(n: int) -> float:
        began, began_cpu = time.perf_counter(), time.process_time()
        response = client.post(
            "/api/v1/authorize", bodies[n % len(bodies)], content_type="application/json", **headers
        )
        elapsed = (time.perf_counter() - began) * 1000
        cpu.append((time.process_time() - began_cpu) * 1000)
        check(response, 200, 402)
        return elapsed

    for n in range(50):
        call(n)
    cpu.clear()
    warm = [call(n) for n in range(AUTHORIZE_REQUESTS)]
    warm_cpu = list(cpu)
    cold = []
    for n in range(COLD_REQUESTS):
        gate_changed(org.pk)
        cold.append(call(n))
    return {
        "warm": summary(warm),
        "warm_cpu_of_this_process": summary(warm_cpu),
        "first_after_invalidation": summary(cold),
    }


def main() -> None:
    setup_django()
    from django.conf import settings

    org, owner, secret = build_world()
    load_before = os.getloadavg()
    result = {
        "cache": settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[1],
        "load_average_before": [round(x, 2) for x in load_before],
        "tab": bench_tab(org, owner),
        "authorize": bench_authorize(org, secret),
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
