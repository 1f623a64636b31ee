"""Ninety days of believable usage for the demo organization, through the ingestion service.

Fixed random seed; weekday and working-hour rhythm in the organization's time zone; a model mix
priced from the bundled catalog (no cost sent, so the catalog price is used); two heavy users;
about 2% errors. Adds nothing when the organization already has usage.
"""

import random
import zoneinfo
from datetime import datetime, timedelta

from django.utils import timezone

from organizations.models import Organization
from organizations.selectors import member_names

from .ingest import ingest_events
from .models import IngestedRequest
from .rollup import rollup_until_caught_up

SEED = 20261125
DAYS = 90
# (provider, model, share of requests, median latency ms)
MODEL_MIX = [
    ("anthropic", "claude-sonnet-4-5", 38, 4200),
    ("anthropic", "claude-haiku-4-5", 14, 1300),
    ("anthropic", "claude-opus-4-1", 3, 9000),
    ("openai", "gpt-5", 12, 6500),
    ("openai", "gpt-5-mini", 10, 2100),
    ("google", "gemini-2.5-pro", 8, 5200),
    ("google", "gemini-2.5-flash", 7, 1500),
    ("mistral", "codestral-latest", 5, 900),
    ("deepseek", "deepseek-chat", 3, 3100),
]
# Heavier users first: relative request volume per member, by email.
WEIGHTS = {"dev1@acme.test": 4.0, "dev2@acme.test": 2.6, "owner@acme.test": 0.6}
HOUR_SHAPE = [
    0,
    0,
    0,
    0,
    0,
    0,
    0.1,
    0.3,
    0.8,
    1.0,
    1.0,
    0.9,
    0.5,
    0.8,
    1.0,
    1.0,
    0.9,
    0.6,
    0.3,
    0.2,
    0.15,
    0.1,
    0.05,
    0,
]
ERROR_CODES = ["rate_limited", "timeout", "provider_error", "context_length_exceeded"]
PER_MEMBER_WEEKDAY = 175  # requests of an average member on an average weekday


def _event(rng: random.Random, when: datetime, email: str, number: int) -> dict:
    provider, model, _, median = rng.choices(MODEL_MIX, weights=[m[2] for m in MODEL_MIX])[0]
    failed = rng.random() < 0.02
    input_tokens = int(rng.lognormvariate(8.3, 0.8))
    cached = int(input_tokens * rng.uniform(0, 0.7)) if provider in ("anthropic", "openai") else 0
    event = {
        "request_id": f"demo-{email.split('@')[0]}-{when:%Y%m%d%H%M%S}-{number}",
        "occurred_at": when.isoformat(),
        "user_email": email,
        "model": model,
        "provider": provider,
        "feature": rng.choice(["chat", "chat", "autocomplete", "agent", "agent", "edit"]),
        "project": rng.choice(["robot-arm", "firmware", "vision", "web"]),
        "input_tokens": input_tokens,
        "output_tokens": 0 if failed else int(rng.lognormvariate(6.4, 0.9)),
        "cache_read_tokens": cached,
        "cache_write_tokens": int(cached * 0.1),
        "latency_ms": min(int(rng.lognormvariate(0, 0.45) * median), 120_000),
        "status": "error" if failed else "success",
    }
    if failed:
        event["error_code"] = rng.choice(ERROR_CODES)
    return event


def generate_events(organization: Organization, now: datetime) -> list[dict]:
    rng = random.Random(SEED)  # noqa: S311 - demo data, reproducible on purpose
    tz = zoneinfo.ZoneInfo(organization.time_zone)
    people = sorted(email for _, _, email in member_names(organization.pk).values())
    local_now = now.astimezone(tz)
    events: list[dict] = []
    for day_offset in range(DAYS, -1, -1):
        day = (local_now - timedelta(days=day_offset)).date()
        weekday_factor = 1.0 if day.weekday() < 5 else 0.08
        growth = 0.8 + 0.4 * (DAYS - day_offset) / DAYS  # adoption grows over the quarter
        for email in people:
            volume = PER_MEMBER_WEEKDAY * WEIGHTS.get(email, 1.0) * weekday_factor * growth
            count = max(0, int(rng.gauss(volume, volume * 0.2)))
            hours = rng.choices(range(24), weights=HOUR_SHAPE, k=count)
            for number, hour in enumerate(hours):
                start = datetime(day.year, day.month, day.day, hour, tzinfo=tz)
                when = start + timedelta(seconds=rng.randrange(3600))
                if when.astimezone(now.tzinfo) >= now:
                    continue
                events.append(_event(rng, when, email, number))
    return events


def seed_demo_usage(organization: Organization) -> int:
    """Ingest the demo usage (once) and roll it up. Returns the number of events accepted."""
    if IngestedRequest.objects.filter(organization_id=organization.pk).exists():
        rollup_until_caught_up()
        return 0
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    events = generate_events(organization, now)
    accepted = 0
    for start in range(0, len(events), 1000):
        result = ingest_events(organization_id=organization.pk, events=events[start : start + 1000])
        accepted += result.accepted
    rollup_until_caught_up()
    return accepted
