"""Streamed CSV and JSON Lines of the filtered audit view, in the organization's time zone.

CSV cells that a spreadsheet would read as a formula (starting with = + - @, a tab or a carriage
return) get a leading single quote, so an attacker who names a target "=HYPERLINK(...)" cannot
make the export run it (OWASP's CSV injection advice).
"""

import csv
import json
from collections.abc import Iterable, Iterator
from typing import Any

from .actions import CATALOGUE, label_of
from .models import ActorType

COLUMNS = (
    "time",
    "actor_type",
    "actor",
    "actor_detail",
    "action",
    "action_label",
    "category",
    "target_type",
    "target_id",
    "target_label",
    "before",
    "after",
    "ip_address",
    "user_agent",
    "event_id",
    "sequence",
    "hash",
)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def formula_safe(value: str) -> str:
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def record(row: dict, tz: Any) -> dict:
    """One exported event (a row of selectors.export_rows)."""
    action = CATALOGUE.get(row["action"])
    if row["actor_type"] == ActorType.USER:
        who = row["actor__name"] or row["actor_email"] or row["actor_label"]
        detail = row["actor_email"] if row["actor__name"] else ""
    else:
        who = ActorType(row["actor_type"]).label if row["actor_type"] in ActorType.values else ""
        detail = row["actor_label"]
    return {
        "time": row["created_at"].astimezone(tz).isoformat(),
        "actor_type": row["actor_type"],
        "actor": who,
        "actor_detail": detail,
        "action": row["action"],
        "action_label": label_of(row["action"]),
        "category": action.category.value if action else "",
        "target_type": row["target_type"],
        "target_id": row["target_id"],
        "target_label": row["target_label"],
        "before": row["before"],
        "after": row["after"],
        "ip_address": row["ip_address"] or "",
        "user_agent": row["user_agent"],
        "event_id": str(row["public_id"]),
        "sequence": row["sequence"],
        "hash": row["hash"],
    }


class _Echo:
    def write(self, value: str) -> str:
        return value


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dict | list):
        value = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return formula_safe(str(value))


def csv_lines(events: Iterable[dict], tz: Any) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield "\ufeff"  # a BOM, so that spreadsheets read the file as UTF-8
    yield writer.writerow(COLUMNS)
    for event in events:
        row = record(event, tz)
        yield writer.writerow([_cell(row[column]) for column in COLUMNS])


def jsonl_lines(events: Iterable[dict], tz: Any) -> Iterator[str]:
    for event in events:
        yield json.dumps(record(event, tz), ensure_ascii=False) + "\n"
