"""Globex's sixteen weeks (Enterprise, Europe/Berlin), for seed_demo.

Hank Scorpio signs up, adds a card and buys credits; his admins invite the team in waves (one
contractor comes and goes, one member is promoted); they create a gateway key, keep the
code-training opt-out on (a new organization's default), set a model policy (an allow list with
wildcards, a few denies, a default model) and tighten it later, keep audit events three years;
last week they configured an OIDC connection to their Okta and claimed their domain, neither
tested nor verified yet (no identity provider or DNS record exists in the demo), and one
invitation is still pending. Every step goes through the services, so the Audit logs tab shows
the resulting events in time order.
"""

import zoneinfo
from datetime import date, timedelta

from audit.services import Actor, retention_update
from billing import demo as billing_demo
from billing.demo_timeline import Step, Story
from kilo_dashboard.demo_clock import local_moment, story_at
from organizations import invitations, services
from organizations.models import Invitation, Membership, Organization, Plan, Role
from organizations.tokens import invitation_token
from providers.services import model_policy_update
from sso import services as sso_services
from usage.demo import UsageProfile, demo_now, generate_events
from usage.models import KeyScope
from usage.services import ingest_key_create

TIME_ZONE = "Europe/Berlin"
ZONE = zoneinfo.ZoneInfo(TIME_ZONE)
WEEKS = 16
SEATS = 15
OWNER = "owner@globex.test"
ADMIN = "admin@globex.test"
# (email, name, role invited as, day of the story they are invited on, usage weight)
PEOPLE = [
    (ADMIN, "Lena Vogel", Role.ADMIN, 0, 0.8),
    ("jonas.richter@globex.test", "Jonas Richter", Role.ADMIN, 1, 2.4),
    ("anna.schmidt@globex.test", "Anna Schmidt", Role.MEMBER, 1, 1.3),
    ("mehmet.yilmaz@globex.test", "Mehmet Yilmaz", Role.MEMBER, 2, 3.0),
    ("sofia.rossi@globex.test", "Sofia Rossi", Role.MEMBER, 2, 1.0),
    ("lukas.weber@globex.test", "Lukas Weber", Role.MEMBER, 15, 1.1),
    ("chloe.martin@globex.test", "Chloé Martin", Role.MEMBER, 15, 0.9),
    ("ravi.iyer@globex.test", "Ravi Iyer", Role.MEMBER, 16, 1.6),
    ("piotr.kowalski@globex.test", "Piotr Kowalski", Role.MEMBER, 17, 1.2),
    ("emma.novak@globex.test", "Emma Novak", Role.MEMBER, 45, 1.0),
    ("felix.braun@globex.test", "Felix Braun", Role.MEMBER, 46, 0.7),
    ("yuki.tanaka@globex.test", "Yuki Tanaka", Role.MEMBER, 60, 1.2),
]
CONTRACTOR, CONTRACT_ENDS = "piotr.kowalski@globex.test", 70  # removed on that day of the story
PROMOTED, PROMOTED_ON = "anna.schmidt@globex.test", 40
PENDING_INVITE = "noah.klein@globex.test"
PACKS_CENTS = (3_000_00,)  # bought again whenever two weeks of credit are left
MODEL_MIX = [  # what a policy of Anthropic and a few OpenAI models leaves to use
    ("anthropic", "claude-sonnet-4-5", 42, 4200),
    ("anthropic", "claude-haiku-4-5", 16, 1300),
    ("openai", "gpt-5", 12, 6500),
    ("openai", "gpt-5-codex", 14, 5800),
    ("openai", "gpt-5-mini", 11, 2100),
]
POLICY = {
    # Gemini and Codestral were allowed for a trial; with the code-training opt-out on, the tab
    # shows them excluded (their providers' terms let them train on prompts, or do not say).
    "allow": [
        "anthropic/*",
        "openai/gpt-5",
        "openai/gpt-5-codex",
        "openai/gpt-5-mini",
        "google/gemini-2.5-pro",
        "mistral/*",
    ],
    "deny": [
        "anthropic/claude-opus-4-1",
        "anthropic/claude-3-opus-20240229",
        "anthropic/claude-3-haiku-20240307",
    ],
    "allow_new_models": True,
    "default_model": "anthropic/claude-sonnet-4-5",
}
LATER_DENY = "anthropic/claude-opus-4-5"  # week 11: the new Opus is too dear for daily work
OKTA_ISSUER = "https://globex.okta.com/oauth2/default"
# What Okta serves at the issuer's discovery URL. No identity provider runs in the demo: the
# connection is saved with this document and stays untested (nobody can sign in through it).
OKTA_DISCOVERY = {
    "issuer": OKTA_ISSUER,
    "authorization_endpoint": f"{OKTA_ISSUER}/v1/authorize",
    "token_endpoint": f"{OKTA_ISSUER}/v1/token",
    "jwks_uri": f"{OKTA_ISSUER}/v1/keys",
}


def _invite(org: Organization, inviter: str, email: str, role: str) -> None:
    actor = Actor(user=Membership.objects.get(organization=org, user__email=inviter).user)
    invitations.invitation_create(actor=actor, organization=org, email=email, role=role)


def _accept(org: Organization, email: str, name: str, make_user) -> None:  # noqa: ANN001
    invitation = Invitation.objects.get(organization=org, email=email, status="pending")
    user = make_user(email, name)  # signs up (verified) the day they accept
    invitations.invitation_accept(actor=Actor(user=user), token=invitation_token(invitation))


def _member_actor(org: Organization, email: str) -> Actor:
    return Actor(user=Membership.objects.get(organization=org, user__email=email).user)


def globex_story(make_user, with_billing: bool) -> Story:  # noqa: ANN001
    """`make_user(email, name)` is seed_demo.demo_user. Creates Globex on the story's first day."""
    now = demo_now()
    today = now.astimezone(ZONE).date()
    first_day = today - timedelta(weeks=WEEKS)
    with story_at(local_moment(first_day, 9, TIME_ZONE)):
        hank = make_user(OWNER, "Hank Scorpio")
        org = services.organization_create(
            actor=Actor(user=hank), name="Globex", slug="globex", time_zone=TIME_ZONE
        )
        # Enterprise is sold by contract, not in the dashboard: an operator sets the plan and
        # the contracted seats (the Stripe subscription that bills them starts at the end).
        Organization.objects.filter(pk=org.pk).update(plan=Plan.ENTERPRISE, seat_count=SEATS)
        org.refresh_from_db()
    owner = Actor(user=hank)
    days = (today - first_day).days - 1
    profile = UsageProfile(
        seed=20261130,
        days=days,
        model_mix=MODEL_MIX,
        weights={OWNER: 0.4, **{email: weight for email, _, _, _, weight in PEOPLE}},
        projects=["checkout-web", "billing-service", "data-platform", "mobile-app", "infra"],
        active={
            email: (days - joined, days - CONTRACT_ENDS + 2 if email == CONTRACTOR else 0)
            for email, _, _, joined, _ in PEOPLE
        },
        people=[OWNER, *(email for email, *_ in PEOPLE)],
        volume=0.75,  # a little lighter than Acme's engineers per head (and a faster seed)
    )
    story = Story(
        organization=org,
        first_day=first_day,
        events=generate_events(org, now, profile),
        buyer=owner,
        packs_cents=PACKS_CENTS if with_billing else (),
    )

    def on(day: int | date, hour: float, run) -> None:  # noqa: ANN001
        story.steps.append(
            Step(day if isinstance(day, date) else first_day + timedelta(day), hour, run)
        )

    if with_billing:
        on(0, 9.2, lambda: billing_demo.card_ensure(org, owner))
        on(0, 9.3, story.buy)
    for email, name, role, day, _ in PEOPLE:
        inviter = OWNER if role == Role.ADMIN else ADMIN
        on(day, 9.5, lambda e=email, r=role, i=inviter: _invite(org, i, e, r))
        on(day, 14, lambda e=email, n=name: _accept(org, e, n, make_user))
    on(2, 16, lambda: ingest_key_create(
        actor=_member_actor(org, "jonas.richter@globex.test"), organization=org,
        name="Gateway (production)", scope=KeyScope.BOTH,
    ))  # fmt: skip
    on(
        4,
        11,
        lambda: model_policy_update(actor=_member_actor(org, ADMIN), organization=org, **POLICY),
    )
    on(20, 16, lambda: retention_update(actor=owner, organization=org, years=3))
    on(PROMOTED_ON, 10, lambda: services.membership_change_role(
        actor=owner, organization=org, role=Role.ADMIN,
        public_id=str(Membership.objects.get(organization=org, user__email=PROMOTED).public_id),
    ))  # fmt: skip
    on(CONTRACT_ENDS, 14, lambda: services.membership_remove(
        actor=_member_actor(org, ADMIN), organization=org,
        public_id=str(Membership.objects.get(organization=org, user__email=CONTRACTOR).public_id),
    ))  # fmt: skip
    on(75, 11, lambda: model_policy_update(
        actor=_member_actor(org, "jonas.richter@globex.test"), organization=org,
        **{**POLICY, "deny": [*POLICY["deny"], LATER_DENY]},
    ))  # fmt: skip
    on(today - timedelta(days=6), 10, lambda: _okta_connection(org, owner))
    on(today - timedelta(days=3), 10.5, lambda: sso_services.domain_claim(
        actor=owner, organization=org, name="globex.test"
    ))  # fmt: skip
    on(today - timedelta(days=2), 10, lambda: invitations.invitation_create(
        actor=_member_actor(org, ADMIN), organization=org, email=PENDING_INVITE, role=Role.MEMBER
    ))  # fmt: skip
    return story


def _okta_connection(org: Organization, owner: Actor) -> None:
    """Saved as the SSO tab saves it; only the discovery fetch is answered for Okta (no IdP in
    the demo). It stays untested: nothing here pretends a login went through."""
    sso_services.connection_save(
        actor=owner,
        organization=org,
        name="Okta (globex.okta.com)",
        issuer_url=OKTA_ISSUER,
        client_id="0oa9globexkilo4x7",
        client_secret="demo-" + "k" * 27 + "Q7vZ",  # noqa: S106 - a demo value, never used
        scopes="openid email profile groups",
        discover=lambda issuer_url: OKTA_DISCOVERY,
    )
