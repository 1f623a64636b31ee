"""manage.py import_usage (JSONL and CSV), the catalog price, partitions and the demo generator."""

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from usage.catalog import price_for
from usage.models import DailyRollup, UsageEvent
from usage.partitions import drop_partitions_before, ensure_partitions

from .conftest import make_event

pytestmark = pytest.mark.django_db


def test_import_jsonl_uses_the_api_validation_and_rolls_up(org, member, tmp_path):
    path = tmp_path / "usage.jsonl"
    lines = [json.dumps(make_event()) for _ in range(3)]
    lines.append(json.dumps(make_event(user_email="stranger@x.test")))
    lines.append("{broken")
    path.write_text("\n".join(lines) + "\n")
    out, err = StringIO(), StringIO()
    call_command("import_usage", str(path), "--org", "acme", stdout=out, stderr=err)
    assert "Imported 3 events (0 duplicates, 2 rejected)" in out.getvalue()
    assert UsageEvent.objects.count() == 3
    assert DailyRollup.objects.exists()


def test_import_csv(org, member, tmp_path):
    path = tmp_path / "usage.csv"
    event = make_event(request_id="csv-1")
    path.write_text(",".join(event) + "\n" + ",".join(str(v) for v in event.values()) + "\n")
    out = StringIO()
    call_command("import_usage", str(path), "--org", "acme", stdout=out, stderr=StringIO())
    assert "Imported 1 events" in out.getvalue()
    assert UsageEvent.objects.get().input_tokens == 1000


def test_catalog_prices_are_decimals_and_costs_integers():
    price = price_for("anthropic", "claude-sonnet-4-5")
    assert isinstance(price.input, Decimal) and price.input == Decimal("3")
    cost = price.cost_microdollars(input_tokens=1, output_tokens=1, cache_read=1, cache_write=1)
    assert cost == 22 and isinstance(cost, int)  # 3 + 15 + 0.3 + 3.75 = 22.05
    assert price_for("anthropic", "no-such-model") is None


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_events_and_their_keys_are_range_partitioned_by_month_and_dropped_together(db):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT partstrat FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid WHERE c.relname = 'usage_usageevent'"
        )
        assert cursor.fetchone() == ("r",)
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'usageevent_time_brin'")
        assert "brin" in cursor.fetchone()[0]
    today = timezone.now().date()
    ensure_partitions(today, months_back=0, months_ahead=5)
    created = ensure_partitions(today, months_back=0, months_ahead=5)
    assert created == []  # idempotent
    dropped = drop_partitions_before(today - timedelta(days=300))
    events = {n.removeprefix("usage_usageevent_") for n in dropped if "usageevent" in n}
    keys = {n.removeprefix("usage_ingestedrequest_") for n in dropped if "ingestedrequest" in n}
    assert events and events == keys  # the same months, e.g. "y2025m10"
    assert len(dropped) == 2 * len(events)  # never a default partition


def test_demo_generator_has_rhythm_and_heavy_users(org, owner, member):
    from usage.demo import generate_events

    now = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
    events = generate_events(org, now)
    assert events
    by_user: dict[str, int] = {}
    for event in events:
        by_user[event["user_email"]] = by_user.get(event["user_email"], 0) + 1
    assert by_user["owner@acme.test"] < by_user["member@acme.test"]
    # Seeded: the same moment gives the very same events, request ids included.
    assert generate_events(org, now) == events
    assert len({event["request_id"] for event in events}) == len(events)
    assert all(datetime.fromisoformat(event["occurred_at"]) < now for event in events)


def test_the_app_role_keeps_the_partitions_through_the_owners_functions():
    """Production's role owns no table, so it cannot create or drop partitions itself; the
    daily task goes through usage_partition_create/_drop (usage 0009), which refuse anything
    but the usage tables' months and never drop the current month."""
    from django.db import DatabaseError, transaction

    from tests.app_role import as_app_role

    today = timezone.now().date()
    far = today.replace(day=1) + timedelta(days=31 * 8)
    month = far.replace(day=1)
    with as_app_role():
        created = ensure_partitions(month, months_back=0, months_ahead=0)
        assert created == [
            f"usage_usageevent_y{month:%Y}m{month:%m}",
            f"usage_ingestedrequest_y{month:%Y}m{month:%m}",
        ]
        dropped = drop_partitions_before(today - timedelta(days=300))
        assert dropped and all("_y" in name for name in dropped)
        for sql, params in (
            ("SELECT usage_partition_create(%s, %s)", ["accounts_user", today]),
            ("SELECT usage_partition_drop(%s)", [f"usage_usageevent_y{today:%Y}m{today:%m}"]),
            ("SELECT usage_partition_drop(%s)", ["usage_usageevent_default"]),
            (f"DROP TABLE {created[0]}", []),
        ):
            with (
                pytest.raises(DatabaseError, match="usage_partition|must be owner"),
                transaction.atomic(),
                connection.cursor() as cursor,
            ):
                cursor.execute(sql, params)
