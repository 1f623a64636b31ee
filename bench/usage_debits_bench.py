"""Usage-debit benchmark (`make bench-usage-debits`): what billing's per-day usage debits cost.

On a scratch PostgreSQL database (created and dropped here): `--orgs` organizations with
`--days` days of daily rollups each. Measures the first posting (one entry per org x day),
a rerun with nothing new (the nightly all-days run on a quiet night), the minutely run over
the look-back window with nothing new, and the minutely run after one new day per org.
Prints one line per measurement.
Usage: DJANGO_ENV=test DATABASE_URL=postgres://... .venv/bin/python bench/usage_debits_bench.py
"""

import argparse
import os
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kilo_dashboard.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402
from django.utils import timezone  # noqa: E402


def seed(orgs: int, days: int) -> list[int]:
    from organizations.models import Organization
    from usage.models import OrgDailyRollup

    today = timezone.now().date()
    ids = []
    for n in range(orgs):
        org = Organization.objects.create(
            slug=f"bench-{n}", name=f"Bench {n}", time_zone="Europe/Berlin", seat_count=10
        )
        ids.append(org.pk)
    OrgDailyRollup.objects.bulk_create(
        [
            OrgDailyRollup(
                organization_id=org_id,
                day=today - timedelta(days=d + 1),
                requests=10,
                cost_microdollars=1_000 + 37 * d,
            )
            for org_id in ids
            for d in range(days)
        ],
        batch_size=5000,
    )
    return ids


def timed(label: str, run) -> None:  # noqa: ANN001
    t0 = time.perf_counter()
    posted = run()
    print(f"{label}: {posted} entries in {time.perf_counter() - t0:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orgs", type=int, default=500)
    parser.add_argument("--days", type=int, default=60)
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("Run against PostgreSQL: DJANGO_ENV=test DATABASE_URL=postgres://...")
    setup_test_environment()
    old_name = settings.DATABASES["default"]["NAME"]
    settings.DATABASES["default"]["TEST"].update(NAME="kilo_bench_usage_debits")
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        from billing import usage_debits
        from usage.models import OrgDailyRollup

        ids = seed(args.orgs, args.days)
        print(f"{args.orgs} orgs x {args.days} days = {args.orgs * args.days} rolled-up days")
        timed("first posting, all days", usage_debits.usage_debits_post_all)
        timed("nightly run, nothing new", usage_debits.usage_debits_post_all)
        timed("minutely run, nothing new", usage_debits.usage_debits_post_recent)
        today = timezone.now().date()
        OrgDailyRollup.objects.bulk_create(
            [
                OrgDailyRollup(organization_id=org_id, day=today, cost_microdollars=5_000)
                for org_id in ids
            ]
        )
        timed("minutely run, one new day per org", usage_debits.usage_debits_post_recent)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
