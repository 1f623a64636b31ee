"""Where a cold Usage page's time goes, in-process (Django test Client on the bench database).

For each view of bench_tab.py, the organization's rollup version is changed before each
request (what a rollup run does), then the request is timed and split into: SQL (each query's
time, from the connection's execute wrapper), building the page (selectors), building the
figures, the tables, rendering, and the rest (session, gate, frame). Run after bench_tab.py has
generated and rolled up the organizations:

    BENCH_DATABASE_URL=... DATABASE_URL=... .venv/bin/python bench/profile_views.py [rounds]
"""

# ruff: noqa: I001 - setup_db must come first: it configures Django.
import statistics
import sys
import time
import uuid
from collections import defaultdict
from contextlib import contextmanager

from setup_db import MODELS, loadavg, require_postgresql

from django.core.cache import cache
from django.db import connection
from django.test import Client

from bench_tab import views
from organizations.models import Membership, Organization
from usage import charts, selectors, tables, views as usage_views
from usage.rollup import rollup_version_key

SPENT: dict[str, float] = defaultdict(float)
QUERIES: list[tuple[str, float]] = []


def _timed(name: str, function):  # noqa: ANN001, ANN202
    def wrapper(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        began = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            SPENT[name] += time.perf_counter() - began

    return wrapper


def _query_timer(execute, sql, params, many, context):  # noqa: ANN001, ANN202
    began = time.perf_counter()
    try:
        return execute(sql, params, many, context)
    finally:
        QUERIES.append((sql, time.perf_counter() - began))


@contextmanager
def instrumented():  # noqa: ANN201
    patches = [
        (selectors, "_build_page"),
        (charts, "build_all"),
        (tables, "day_rows"),
        (tables, "weekly_rows"),
        (tables, "member_rows"),
        (usage_views, "render_to_string"),
    ]
    originals = [(module, name, getattr(module, name)) for module, name in patches]
    for module, name, function in originals:
        setattr(module, name, _timed(f"{module.__name__}.{name}", function))
    try:
        with connection.execute_wrapper(_query_timer):
            yield
    finally:
        for module, name, function in originals:
            setattr(module, name, function)


def main() -> None:
    require_postgresql()
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    print("loadavg", loadavg())
    for slug in ("big", "small"):
        org = Organization.objects.get(slug=slug)
        owner = Membership.objects.filter(organization=org, role="owner").first().user
        member = Membership.objects.filter(organization=org).exclude(user=owner).first()
        client = Client()
        client.force_login(owner)
        for view, query in views(str(member.public_id), MODELS[0][1]).items():
            totals, parts, slowest = [], defaultdict(list), defaultdict(list)
            for n in range(rounds + 2):
                cache.set(rollup_version_key(org.pk), uuid.uuid4().hex, timeout=None)
                SPENT.clear()
                QUERIES.clear()
                with instrumented():
                    began = time.perf_counter()
                    response = client.get(f"/orgs/{slug}/usage/{query}")
                    total = time.perf_counter() - began
                if response.status_code != 200:
                    raise SystemExit(f"{slug} {view}: HTTP {response.status_code}")
                if n < 2:
                    continue
                totals.append(total * 1000)
                parts["sql"].append(sum(t for _, t in QUERIES) * 1000)
                parts["queries"].append(len(QUERIES))
                for name, spent in SPENT.items():
                    parts[name.split(".")[-1]].append(spent * 1000)
                for sql, spent in QUERIES:
                    slowest[sql[:90]].append(spent * 1000)
            print(f"\n{slug} {view}: total median {statistics.median(totals):.1f} ms")
            for name, values in parts.items():
                print(f"  {name:>18}: {statistics.median(values):7.1f}")
            top = sorted(slowest.items(), key=lambda item: -statistics.median(item[1]))[:6]
            for sql, values in top:
                print(f"    {statistics.median(values):6.2f} ms x{len(values) // rounds} {sql}")
    print("loadavg", loadavg())


if __name__ == "__main__":
    main()
