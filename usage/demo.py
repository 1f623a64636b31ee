"""Months of believable usage for the demo organizations, through the ingestion service.

Fixed random seed; weekday and working-hour rhythm in the organization's time zone; a model mix
priced from the bundled catalog (no cost sent, so the catalog price is used); heavy and light
users; people who join (or leave) part-way through; about 2% errors. seed_demo feeds the events
to the ingestion service day by day (billing.demo_timeline), as the gateway would have.
"""

import random
import zoneinfo
from dataclasses import dataclass, field
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
PROJECTS = ["robot-arm", "firmware", "vision", "web"]
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


@dataclass(frozen=True)
class UsageProfile:
    """Who uses what, how much, and when. The default is Acme's quarter."""

    seed: int = SEED
    days: int = DAYS
    model_mix: list = field(default_factory=lambda: MODEL_MIX)
    weights: dict = field(default_factory=lambda: WEIGHTS)
    projects: list = field(default_factory=lambda: PROJECTS)
    # email -> (first, last) day offsets (days before now) the person uses the assistant on;
    # people not listed use it every day of the profile.
    active: dict = field(default_factory=dict)
    people: list | None = None  # default: the organization's members
    volume: float = 1.0  # times PER_MEMBER_WEEKDAY requests per person on a weekday


def _event(
    rng: random.Random, when: datetime, email: str, number: int, profile: UsageProfile
) -> dict:
    mix = profile.model_mix
    provider, model, _, median = rng.choices(mix, weights=[m[2] for m in mix])[0]
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
        "project": rng.choice(profile.projects),
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


def generate_events(
    organization: Organization, now: datetime, profile: UsageProfile | None = None
) -> list[dict]:
    """The events, oldest day first (within a day, person by person)."""
    profile = profile or UsageProfile()
    rng = random.Random(profile.seed)  # noqa: S311 - demo data, reproducible on purpose
    tz = zoneinfo.ZoneInfo(organization.time_zone)
    people = sorted(
        profile.people
        if profile.people is not None
        else (email for _, _, email in member_names(organization.pk).values())
    )
    local_now = now.astimezone(tz)
    days = profile.days
    events: list[dict] = []
    for day_offset in range(days, -1, -1):
        day = (local_now - timedelta(days=day_offset)).date()
        weekday_factor = 1.0 if day.weekday() < 5 else 0.08
        growth = 0.8 + 0.4 * (days - day_offset) / days  # adoption grows over the months
        for email in people:
            first, last = profile.active.get(email, (days, 0))
            if not last <= day_offset <= first:
                continue
            volume = (
                PER_MEMBER_WEEKDAY
                * profile.volume
                * profile.weights.get(email, 1.0)
                * weekday_factor
                * growth
            )
            count = max(0, int(rng.gauss(volume, volume * 0.2)))
            hours = rng.choices(range(24), weights=HOUR_SHAPE, k=count)
            for number, hour in enumerate(hours):
                start = datetime(day.year, day.month, day.day, hour, tzinfo=tz)
                when = start + timedelta(seconds=rng.randrange(3600))
                if when.astimezone(now.tzinfo) >= now:
                    continue
                events.append(_event(rng, when, email, number, profile))
    return events


def ingest(organization: Organization, events: list[dict]) -> int:
    """Ingest `events` (in batches of the API's size) and roll them up. Returns those accepted."""
    accepted = 0
    for start in range(0, len(events), 1000):
        result = ingest_events(organization_id=organization.pk, events=events[start : start + 1000])
        accepted += result.accepted
    rollup_until_caught_up()
    return accepted


def has_usage(organization: Organization) -> bool:
    return IngestedRequest.objects.filter(organization_id=organization.pk).exists()


def demo_now() -> datetime:
    """The moment the demo's events are generated up to (the hour seeding starts in)."""
    return timezone.now().replace(minute=0, second=0, microsecond=0)
