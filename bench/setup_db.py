"""Shared set-up for the benchmarks: a separate PostgreSQL database and synthetic organizations.

Run through `make bench` (DATABASE_URL points at the benchmark database, never the demo's).
"""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kilo_dashboard.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth.hashers import make_password  # noqa: E402
from django.db import connection  # noqa: E402

from accounts.models import User  # noqa: E402
from organizations.models import Membership, Organization, Role  # noqa: E402

MODELS = [
    ("anthropic", "claude-sonnet-4-5"),
    ("anthropic", "claude-haiku-4-5"),
    ("anthropic", "claude-opus-4-1"),
    ("anthropic", "claude-3-7-sonnet-20250219"),
    ("openai", "gpt-5"),
    ("openai", "gpt-5-mini"),
    ("openai", "gpt-4.1"),
    ("openai", "gpt-4.1-mini"),
    ("openai", "gpt-4.1-nano"),
    ("google", "gemini-2.5-pro"),
    ("google", "gemini-2.5-flash"),
    ("google", "gemini-2.0-flash"),
    ("google", "gemini-2.5-flash-lite"),
    ("mistral", "codestral-latest"),
    ("mistral", "devstral-medium-2507"),
    ("mistral", "devstral-small-2505"),
    ("deepseek", "deepseek-chat"),
    ("deepseek", "deepseek-reasoner"),
    ("anthropic", "claude-3-5-sonnet-20241022"),
    ("openai", "gpt-3.5-turbo"),
]


def bench_org(slug: str, members: int = 100) -> tuple[Organization, list[int], list[str]]:
    """An organization with `members` members (bulk-created; the passwords are never used)."""
    org, _ = Organization.objects.get_or_create(
        slug=slug,
        defaults={"name": f"Bench {slug}", "seat_count": members, "time_zone": "Europe/Berlin"},
    )
    emails = [f"user{n}@{slug}.bench" for n in range(members)]
    existing = set(User.objects.filter(email__in=emails).values_list("email", flat=True))
    password = make_password(None)
    User.objects.bulk_create(
        [
            User(email=e, name=f"User {e.split('@')[0]}", password=password)
            for e in emails
            if e not in existing
        ]
    )
    users = dict(User.objects.filter(email__in=emails).values_list("email", "pk"))
    have = set(Membership.objects.filter(organization=org).values_list("user_id", flat=True))
    Membership.objects.bulk_create(
        [
            Membership(
                organization=org, user_id=users[e], role=Role.OWNER if n == 0 else Role.MEMBER
            )
            for n, e in enumerate(emails)
            if users[e] not in have
        ]
    )
    return org, [users[e] for e in emails], emails


def loadavg() -> str:
    """The 1, 5 and 15-minute load averages, printed beside every figure (2 shared cores here)."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def require_postgresql() -> None:
    if connection.vendor != "postgresql":
        sys.exit("The benchmarks need PostgreSQL: set DATABASE_URL (make bench does).")
