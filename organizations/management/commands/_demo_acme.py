"""Acme Robotics' quarter (Teams, America/New_York), for seed_demo.

The people, the ninety days of usage and the billing are as before; what changed is *when* the
billing happens. Acme's three packs of credits used to be bought at seeding time while the usage
debits are dated on the days of the usage, so every past statement opened at zero, took months of
usage and closed thousands of dollars below zero. Now Acme adds its card and buys its first pack
the day before its first usage, redeems the welcome credit, gets a small refund, and buys the next
packs when the credit would last under two weeks: statements read like a real customer's.
"""

import zoneinfo
from datetime import timedelta

from audit.services import Actor
from billing import demo as billing_demo
from billing.demo_timeline import Step, Story
from kilo_dashboard.demo_clock import local_moment, story_at
from organizations import invitations
from organizations.models import Membership, Organization, Plan, Role
from usage.demo import DAYS, demo_now, generate_events

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
ACME_PACKS_CENTS = (1_000_00, 2_500_00, 1_000_00)
ACME_REFUND_CENTS = 25_00
TIME_ZONE = "America/New_York"
ZONE = zoneinfo.ZoneInfo(TIME_ZONE)


def acme_story(make_org, with_billing: bool) -> Story:  # noqa: ANN001
    """`make_org(slug, name, plan, seats, time_zone, people)` creates the organization and its
    people (seed_demo.demo_org); it runs on the story's first day."""
    now = demo_now()
    first_day = (now.astimezone(ZONE) - timedelta(days=DAYS + 1)).date()
    with story_at(local_moment(first_day, 9, TIME_ZONE)):
        acme: Organization = make_org(
            "acme", "Acme Robotics", Plan.TEAMS, 10, TIME_ZONE, ACME_PEOPLE
        )
    owner = Membership.objects.get(organization=acme, user__email="owner@acme.test").user
    actor = Actor(user=owner)
    story = Story(
        organization=acme,
        first_day=first_day,
        events=generate_events(acme, now),
        buyer=actor,
        packs_cents=ACME_PACKS_CENTS,
    )
    if with_billing:
        story.steps += [
            Step(first_day, 9.25, lambda: billing_demo.card_ensure(acme, actor)),
            Step(first_day, 9.5, story.buy),
            Step(first_day, 9.75, lambda: billing_demo.welcome_credit_redeem(acme, actor)),
            Step(
                first_day + timedelta(days=9),
                14,
                lambda: billing_demo.first_purchase_refund(acme, ACME_REFUND_CENTS),
            ),
        ]
    else:
        story.packs_cents = ()
    story.steps.append(
        Step(
            now.astimezone(ZONE).date() - timedelta(days=2),
            11,
            lambda: invitations.invitation_create(
                actor=actor, organization=acme, email=ACME_PENDING_INVITE, role=Role.MEMBER
            ),
        )
    )
    return story
