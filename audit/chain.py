"""The per-organization hash chain: canonical content, hashing, verification.

hash(n) = SHA-256(prev_hash + "\\n" + canonical JSON of event n), prev_hash(n) = hash(n-1), and
hash(0) is 64 zeros. Editing, inserting or deleting an event therefore breaks the link after it;
deleting the newest events is caught against the head kept in AuditTrail. Retention pruning
deletes a prefix of the chain and moves the trail's anchor (sequence and hash of the last pruned
event), so the first kept event still verifies.

The canonical content leaves out `actor_id` on purpose: deleting a user sets it to NULL (the only
UPDATE the database allows on audit rows), and the actor's email and type are hashed instead.
"""

import hashlib
import ipaddress
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

# The fields, in the order read from the database for verification.
CHAIN_FIELDS = (
    "public_id",
    "organization_id",
    "sequence",
    "created_at",
    "actor_type",
    "actor_email",
    "actor_label",
    "ip_address",
    "user_agent",
    "action",
    "target_type",
    "target_id",
    "target_label",
    "before",
    "after",
)


def normalize_ip(value: str | None) -> str | None:
    """The form PostgreSQL's inet gives back, so that the hash survives the round trip."""
    if not value:
        return None
    try:
        return ipaddress.ip_address(value.strip()).compressed
    except ValueError:
        return None


def normalize_json(value: object) -> object:
    """What a JSON column gives back (tuples become lists, keys become strings)."""
    if value is None:
        return None
    return json.loads(json.dumps(value, default=str))


def canonical(values: dict) -> bytes:
    content = {field: values[field] for field in CHAIN_FIELDS}
    content["public_id"] = str(content["public_id"])
    created_at: datetime = content["created_at"]
    content["created_at"] = created_at.astimezone(UTC).isoformat(timespec="microseconds")
    return json.dumps(
        content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    ).encode()


def event_hash(prev_hash: str, values: dict) -> str:
    return hashlib.sha256(prev_hash.encode() + b"\n" + canonical(values)).hexdigest()


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    events_checked: int
    through_sequence: int
    problem: str = ""


def verify(
    rows: Iterable[dict],
    *,
    anchor_sequence: int,
    anchor_hash: str,
    head_sequence: int,
    head_hash: str,
) -> ChainReport:
    """Walk the events in sequence order; report the first broken or missing link."""
    expected_sequence, prev_hash, checked = anchor_sequence + 1, anchor_hash, 0
    for row in rows:
        sequence = row["sequence"]
        if sequence != expected_sequence:
            return ChainReport(
                False,
                checked,
                expected_sequence - 1,
                f"Missing link: event #{expected_sequence} is missing (next found: #{sequence}).",
            )
        if row["prev_hash"] != prev_hash:
            return ChainReport(
                False,
                checked,
                sequence - 1,
                f"Broken link at event #{sequence} ({row['public_id']}): it does not point to "
                "the hash of the event before it.",
            )
        if event_hash(prev_hash, row) != row["hash"]:
            return ChainReport(
                False,
                checked,
                sequence - 1,
                f"Broken link at event #{sequence} ({row['public_id']}): its content was altered "
                "after it was recorded.",
            )
        prev_hash, expected_sequence, checked = row["hash"], sequence + 1, checked + 1
    last = expected_sequence - 1
    if last != head_sequence:
        return ChainReport(
            False,
            checked,
            last,
            f"Missing link: events #{last + 1} to #{head_sequence} are missing "
            "(the newest events were deleted).",
        )
    if prev_hash != head_hash:
        return ChainReport(
            False, checked, last, f"Broken link: event #{last} does not match the chain's head."
        )
    return ChainReport(True, checked, last)
