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
from .models import AuditEvent
from .selectors import actor_text

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


def record(event: AuditEvent, tz: Any) -> dict:
    who, detail = actor_text(event)
    action = CATALOGUE.get(event.action)
    return {
        "time": event.created_at.astimezone(tz).isoformat(),
        "actor_type": event.actor_type,
        "actor": who,
        "actor_detail": detail,
        "action": event.action,
        "action_label": label_of(event.action),
        "category": action.category.value if action else "",
        "target_type": event.target_type,
        "target_id": event.target_id,
        "target_label": event.target_label,
        "before": event.before,
        "after": event.after,
        "ip_address": event.ip_address or "",
        "user_agent": event.user_agent,
        "event_id": str(event.public_id),
        "sequence": event.sequence,
        "hash": event.hash,
    }


class _Echo:
    def write(self, value: str) -> str:
        return value


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        value = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return formula_safe(str(value))


def csv_lines(events: Iterable[AuditEvent], tz: Any) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield "\ufeff"  # a BOM, so that spreadsheets read the file as UTF-8
    yield writer.writerow(COLUMNS)
    for event in events:
        row = record(event, tz)
        yield writer.writerow([_cell(row[column]) for column in COLUMNS])


def jsonl_lines(events: Iterable[AuditEvent], tz: Any) -> Iterator[str]:
    for event in events:
        yield json.dumps(record(event, tz), ensure_ascii=False) + "\n"
