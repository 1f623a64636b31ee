"""Deterministic demo data: Acme Robotics (Teams) and Globex (Enterprise), each lived through the
real services day by day over its past months (billing.demo_timeline), so every tab, statement
and audit log reads like a real customer's.

Safe to run again: an organization's story is played once (when it has no usage yet); a later
run only catches up what beat would have done meanwhile (rollups, usage debits).
"""

import time
from datetime import timedelta

from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from audit.maintenance import verify_organization
from audit.services import Actor
from billing import demo as billing_demo
from billing import usage_debits
from billing.demo_timeline import play
from organizations.models import Membership, Organization, Plan
from stripe_events.replay import events_replay
from subscriptions.demo import seed_demo_subscription
from usage.demo import has_usage
from usage.rollup import rollup_until_caught_up

from ._demo_acme import acme_story
from ._demo_globex import OWNER as GLOBEX_OWNER
from ._demo_globex import globex_story

DEMO_PASSWORD = "kilo-demo-pass"  # noqa: S105 - documented demo credential


def demo_user(email: str, name: str):  # noqa: ANN201
    User = get_user_model()
    user, created = User.objects.get_or_create(email=email, defaults={"name": name})
    if created:
        user.set_password(DEMO_PASSWORD)
        user.save()
    EmailAddress.objects.update_or_create(
        user=user, email=email, defaults={"verified": True, "primary": True}
    )
    return user


def demo_org(
    slug: str, name: str, plan: str, seats: int, time_zone: str, people: list
) -> Organization:
    org, _ = Organization.objects.get_or_create(
        slug=slug,
        defaults={
            "name": name,
            "plan": plan,
            "seat_count": seats,
            "time_zone": time_zone,
            "billing_email": f"billing@{slug}.test",
        },
    )
    now = timezone.now()
    for index, (email, full_name, role) in enumerate(people):
        user = demo_user(email, full_name)
        membership, created = Membership.objects.get_or_create(
            organization=org, user=user, defaults={"role": role}
        )
        if created and index:
            # Deterministic spread of "last activity": person n was last active n*5 hours ago.
            membership.last_activity_at = now - timedelta(hours=5 * index)
            membership.save(update_fields=["last_activity_at"])
    return org


class Command(BaseCommand):
    help = "Load the demo organizations Acme Robotics and Globex (idempotent)."

    @transaction.atomic
    def handle(self, *args: object, **options: object) -> None:
        started = time.monotonic()
        stripe = billing_demo.localstripe_reachable()
        if not stripe:
            self.stdout.write("  localstripe is not running: cards, credits and seats skipped.")
        acme = Organization.objects.filter(slug="acme").first()
        if acme is None or not has_usage(acme):
            self._play(acme_story(demo_org, stripe))
        globex = Organization.objects.filter(slug="globex").first()
        if globex is None:
            self._play(globex_story(demo_user, stripe))
        # A run after the first: what beat would have done since (every minute in production).
        rollup_until_caught_up()
        usage_debits.usage_debits_post()
        for slug, plan, seats, owner in (
            ("acme", Plan.TEAMS, 10, None),
            ("globex", Plan.ENTERPRISE, 15, GLOBEX_OWNER),
        ):
            organization = Organization.objects.filter(slug=slug).first()
            if organization is None:
                continue  # a Globex of an older demo database without its story
            actor = None
            if owner:
                user = Membership.objects.filter(organization=organization, user__email=owner)
                actor = Actor(user=user.first().user) if user.exists() else None
            self.stdout.write(
                "  " + seed_demo_subscription(organization, plan=plan, seats=seats, actor=actor)
            )
        # The web server is not up yet while seeding, so localstripe's webhooks for all of the
        # above (the subscriptions' included) found no one: receive them from its Events API,
        # through the webhook path.
        received = events_replay(since_seconds=3600) if stripe else 0
        self.stdout.write(f"  stripe: {received} event(s) received that no webhook could deliver")
        for organization in Organization.objects.filter(slug__in=("acme", "globex")):
            # What the daily audit task does: the Audit logs tab then shows the chain verified.
            report = verify_organization(organization)
            self.stdout.write(
                f"  {organization.slug}: audit chain of {report.events_checked} events ok={report.ok}"
            )
        self.stdout.write(
            self.style.SUCCESS(f"Demo data ready ({time.monotonic() - started:.1f} s).")
        )
        self.stdout.write(
            f"Log in at {settings.SITE_URL} with any of these (password "
            f"{DEMO_PASSWORD!r}):\n"
            "  owner@acme.test   (Acme Robotics, owner)\n"
            "  admin@acme.test   (Acme Robotics, admin)\n"
            "  member@acme.test  (Acme Robotics, member)\n"
            "  owner@globex.test (Globex, Enterprise owner)\n"
            "  admin@globex.test (Globex, admin)"
        )

    def _play(self, story) -> None:  # noqa: ANN001
        started = time.monotonic()
        done = play(story)
        for line in done:
            self.stdout.write(f"  {story.organization.slug}: {line}")
        self.stdout.write(
            f"  {story.organization.slug}: {len(story.events):,} usage events over "
            f"{(timezone.localdate() - story.first_day).days} days "
            f"({time.monotonic() - started:.1f} s)"
        )
