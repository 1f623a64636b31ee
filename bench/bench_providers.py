"""Providers tab p95 (full catalog, filters applied) and POST /api/v1/authorize p99.

`make bench-providers` runs it on its own PostgreSQL database (BENCH_PROVIDERS_DATABASE_URL,
created and migrated when missing) with the Redis cache of REDIS_URL (local memory without it).

Method:
- The bundled catalog is synced (147 providers, 5,276 models). An Enterprise organization with
  50 members, a model policy (a provider wildcard allow list, 300 exact denies, new models off),
  the code-training opt-out on, 30 days of model rollups for 40 models, and credit.
- Tab over HTTP (the budget's measure): gunicorn (BENCH_PROVIDERS_WORKERS sync workers, DEBUG
  off, Redis cache) on 127.0.0.1, an owner's session cookie, one request at a time on a new
  connection each (sync workers close it), cycling through 8 filter/sort combinations (policy
  facts, modalities, price, context, search, usage sort, page 3); 20 warm-ups then
  BENCH_PROVIDERS_TAB_REQUESTS measured; p50/p95/p99/max wall clock at the client. Also the
  htmx partial (the table only), and "after a policy change": the organization's gate version
  replaced before every request, so the snapshot is rebuilt.
- Tab in-process (server time, no HTTP): Django's test client, same combinations; queries per
  request; also with the process's row fragments dropped before every request (the cost of a
  page whose rows were never rendered, e.g. the first after a sync).
- Authorize: the test client posting {"user_email", "model"} with an API key, cycling through
  allowed, denied, opted-out and non-member answers; 50 warm-ups then
  BENCH_PROVIDERS_AUTHORIZE_REQUESTS measured; p50/p99/max. Also after each invalidation, and
  over HTTP (same gunicorn).
Every phase records /proc/loadavg before and after it.
"""

import http.client
import json
import os
import statistics
import subprocess
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
PORT = int(os.environ.get("BENCH_PROVIDERS_PORT", "8113"))
WORKERS = int(os.environ.get("BENCH_PROVIDERS_WORKERS", "2"))


def loadavg() -> str:
    """The 1, 5 and 15-minute load averages."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def start_gunicorn() -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": URL, "DJANGO_ENV": "development", "DEBUG": "false"}
    process = subprocess.Popen(  # noqa: S603 - fixed arguments
        [sys.executable, "-m", "gunicorn", "kilo_dashboard.wsgi", "-b", f"127.0.0.1:{PORT}"]
        + ["-w", str(WORKERS), "--log-level", "warning"],
        cwd=ROOT,
        env=env,
    )
    for _ in range(300):
        try:
            http.client.HTTPConnection("127.0.0.1", PORT, timeout=1).request("GET", "/healthz")
            return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("gunicorn did not start")


def stop_gunicorn(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


def http_request(method: str, path: str, headers: dict, body: str | None = None) -> tuple:
    """One request on a new connection (gunicorn's sync workers close it): (status, ms)."""
    began = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", PORT, timeout=60)
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    response.read()
    elapsed = (time.perf_counter() - began) * 1000
    connection.close()
    return response.status, elapsed


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
    """In-process: server time and queries."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from organizations.gate import gate_changed
    from providers import presenters

    client = Client()
    client.force_login(owner)
    base = f"/orgs/{org.slug}/providers/?"
    for n in range(10):
        check(client.get(base + TAB_QUERIES[n % len(TAB_QUERIES)]), 200)
    load = loadavg()
    warm, cpu, queries = [], [], []
    for n in range(TAB_REQUESTS):
        with CaptureQueriesContext(connection) as captured:
            began, began_cpu = time.perf_counter(), time.process_time()
            response = client.get(base + TAB_QUERIES[n % len(TAB_QUERIES)])
            warm.append((time.perf_counter() - began) * 1000)
            cpu.append((time.process_time() - began_cpu) * 1000)
        check(response, 200)
        queries.append(len(captured))
    rows_not_cached = []
    for n in range(COLD_REQUESTS * 2):
        presenters._fragments.clear()  # noqa: SLF001 - what a page of never-rendered rows costs
        began = time.perf_counter()
        check(client.get(base + TAB_QUERIES[n % len(TAB_QUERIES)]), 200)
        rows_not_cached.append((time.perf_counter() - began) * 1000)
    cold = []
    for n in range(COLD_REQUESTS):
        gate_changed(org.pk)
        began = time.perf_counter()
        check(client.get(base + TAB_QUERIES[n % len(TAB_QUERIES)]), 200)
        cold.append((time.perf_counter() - began) * 1000)
    return {
        "load_average": f"{load} -> {loadavg()}",
        "warm": summary(warm, queries),
        "warm_cpu_of_this_process": summary(cpu),
        "rows_not_cached": summary(rows_not_cached),
        "after_policy_change": summary(cold),
    }


def session_cookie(user) -> str:  # noqa: ANN001
    from django.test import Client

    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}"


def bench_tab_http(org, owner) -> dict:  # noqa: ANN001
    from organizations.gate import gate_changed

    headers = {"Cookie": session_cookie(owner), "Host": "127.0.0.1"}
    htmx = {**headers, "HX-Request": "true", "HX-Target": "providers-body"}
    base = f"/orgs/{org.slug}/providers/?"

    def run(count: int, request_headers: dict, before=None) -> list[float]:  # noqa: ANN001
        timings = []
        for n in range(count):
            if before:
                before()
            status, elapsed = http_request(
                "GET", base + TAB_QUERIES[n % len(TAB_QUERIES)], request_headers
            )
            if status != 200:
                raise SystemExit(f"tab over HTTP: {status}")
            timings.append(elapsed)
        return timings

    run(20, headers)
    run(20, htmx)
    result = {}
    for name, count, request_headers, before in (
        ("warm", TAB_REQUESTS, headers, None),
        ("htmx_partial", TAB_REQUESTS // 2, htmx, None),
        ("after_policy_change", COLD_REQUESTS, headers, lambda: gate_changed(org.pk)),
    ):
        load = loadavg()
        timings = run(count, request_headers, before)
        result[name] = {"load_average": f"{load} -> {loadavg()}", **summary(timings)}
    return result


def authorize_bodies() -> list[str]:
    return [
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


def bench_authorize_http(secret: str) -> dict:
    headers = {
        "Authorization": f"Bearer {secret}",
        "Content-Type": "application/json",
        "Host": "127.0.0.1",
    }
    bodies = authorize_bodies()
    timings = []
    for n in range(50 + AUTHORIZE_REQUESTS // 3):
        status, elapsed = http_request("POST", "/api/v1/authorize", headers, bodies[n % 5])
        if status not in (200, 402):
            raise SystemExit(f"authorize over HTTP: {status}")
        if n >= 50:
            timings.append(elapsed)
    return summary(timings)


def bench_authorize(org, secret) -> dict:  # noqa: ANN001
    from django.test import Client

    from organizations.gate import gate_changed

    client = Client()
    bodies = authorize_bodies()
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
    load = loadavg()
    warm = [call(n) for n in range(AUTHORIZE_REQUESTS)]
    warm_cpu = list(cpu)
    cold = []
    for n in range(COLD_REQUESTS):
        gate_changed(org.pk)
        cold.append(call(n))
    return {
        "load_average": f"{load} -> {loadavg()}",
        "warm": summary(warm),
        "warm_cpu_of_this_process": summary(warm_cpu),
        "first_after_invalidation": summary(cold),
    }


def main() -> None:
    setup_django()
    from django.conf import settings

    org, owner, secret = build_world()
    result = {
        "cache": settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[1],
        "cpus": os.cpu_count(),
        "load_average_before": loadavg(),
    }
    server = start_gunicorn()
    try:
        result["tab_over_http"] = bench_tab_http(org, owner)
        load = loadavg()
        result["authorize_over_http"] = {
            "load_average": f"{load} -> {loadavg()}",
            **bench_authorize_http(secret),
        }
    finally:
        stop_gunicorn(server)
    result["tab_in_process"] = bench_tab(org, owner)
    result["authorize_in_process"] = bench_authorize(org, secret)
    result["load_average_after"] = loadavg()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
