"""Deterministic demo data. Safe to run again: it only adds what is missing."""

from datetime import timedelta

from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from audit.services import Actor
from organizations import services
from organizations.models import Invitation, InvitationStatus, Membership, Organization, Plan, Role
from stripe_events.replay import events_replay
from subscriptions.demo import seed_demo_subscription
from usage.demo import seed_demo_usage

DEMO_PASSWORD = "kilo-demo-pass"  # noqa: S105 - documented demo credential

ACME_PEOPLE = [
    ("owner@acme.test", "Olivia Owens", Role.OWNER),
    ("admin@acme.test", "Arjun Adeyemi", Role.ADMIN),
    ("member@acme.test", "Mei Martinez", Role.MEMBER),
    ("dev1@acme.test", "Diego Alvarez", Role.MEMBER),
    ("dev2@acme.test", "Priya Natarajan", Role.MEMBER),
    ("dev3@acme.test", "Tom Becker", Role.MEMBER),
    ("dev4@acme.test", "Sara Lindqvist", Role.MEMBER),
    ("dev5@acme.test", "Kwame Mensah", Role.MEMBER),
]
ACME_PENDING_INVITE = "new.hire@acme.test"
GLOBEX_PEOPLE = [("owner@globex.test", "Hank Scorpio", Role.OWNER)]


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
        acme = demo_org("acme", "Acme Robotics", Plan.TEAMS, 10, "America/New_York", ACME_PEOPLE)
        demo_org("globex", "Globex", Plan.ENTERPRISE, 25, "Europe/Berlin", GLOBEX_PEOPLE)
        if not Invitation.objects.filter(
            organization=acme, email=ACME_PENDING_INVITE, status=InvitationStatus.PENDING
        ).exists():
            owner = Membership.objects.get(organization=acme, user__email="owner@acme.test").user
            services.invitation_create(
                actor=Actor(user=owner),
                organization=acme,
                email=ACME_PENDING_INVITE,
                role=Role.MEMBER,
            )
        seed_demo_usage(acme)
        billing_demo = __import__("billing.demo").demo
        billing_demo.seed_billing("acme", self.stdout)  # card, credits, PDFs
        self.stdout.write(seed_demo_subscription(acme))
        # The web server is not up yet while seeding, so localstripe's webhooks for all of the
        # above (the subscription's included) found no one: receive them from its Events API,
        # through the webhook path.
        received = events_replay(since_seconds=3600) if billing_demo.localstripe_reachable() else 0
        self.stdout.write(f"  stripe: {received} event(s) received that no webhook could deliver")
        self.stdout.write(self.style.SUCCESS("Demo data ready."))
        self.stdout.write(
            f"Log in at {settings.SITE_URL} with any of these (password "
            f"{DEMO_PASSWORD!r}):\n"
            "  owner@acme.test   (Acme Robotics, owner)\n"
            "  admin@acme.test   (Acme Robotics, admin)\n"
            "  member@acme.test  (Acme Robotics, member)\n"
            "  owner@globex.test (Globex, Enterprise owner)"
        )
