"""Personas and shared fixtures.

Personas: an owner, an admin and a member of "Acme Robotics", and an outsider who owns another
organization ("Initech"). Every test database is PostgreSQL; each xdist worker gets its own
database (pytest-django) and its own Redis database for the cache (below).
"""

import os

import pytest
from allauth.account.models import EmailAddress
from django.core.cache import cache
from django.test import Client

from accounts.models import User
from audit.services import Actor
from organizations.models import Membership, Organization, Plan, Role

PASSWORD = "correct-horse-battery-staple"


def pytest_configure(config: pytest.Config) -> None:
    # One Redis database per parallel worker, so that clearing the cache between tests (rate
    # limits live there) never touches another worker's keys. gw0 -> db 1, gw1 -> db 2, ...
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    from django.conf import settings

    if settings.CACHES["default"]["BACKEND"].endswith("RedisCache"):
        base = settings.CACHES["default"]["LOCATION"].rsplit("/", 1)[0]
        settings.CACHES["default"]["LOCATION"] = f"{base}/{1 + int(worker.removeprefix('gw'))}"


@pytest.fixture(autouse=True)
def _clean_cache():
    cache.clear()
    yield
    cache.clear()


def make_user(email: str, name: str = "", *, verified: bool = True) -> User:
    user = User.objects.create_user(email=email, password=PASSWORD, name=name)
    EmailAddress.objects.create(user=user, email=email, verified=verified, primary=True)
    return user


def make_org(slug: str, name: str, *, seats: int = 10, plan: str = Plan.TEAMS) -> Organization:
    return Organization.objects.create(
        slug=slug, name=name, seat_count=seats, plan=plan, time_zone="Europe/Berlin"
    )


@pytest.fixture
def org(db) -> Organization:
    return make_org("acme", "Acme Robotics")


@pytest.fixture
def other_org(db) -> Organization:
    return make_org("initech", "Initech")


@pytest.fixture
def owner(org) -> User:
    user = make_user("owner@acme.test", "Olivia Owens")
    Membership.objects.create(organization=org, user=user, role=Role.OWNER)
    return user


@pytest.fixture
def admin(org) -> User:
    user = make_user("admin@acme.test", "Arjun Adeyemi")
    Membership.objects.create(organization=org, user=user, role=Role.ADMIN)
    return user


@pytest.fixture
def member(org) -> User:
    user = make_user("member@acme.test", "Mei Martinez")
    Membership.objects.create(organization=org, user=user, role=Role.MEMBER)
    return user


@pytest.fixture
def outsider(other_org) -> User:
    user = make_user("boss@initech.test", "Bill Lumbergh")
    Membership.objects.create(organization=other_org, user=user, role=Role.OWNER)
    return user


@pytest.fixture
def personas(owner, admin, member, outsider) -> dict[str, User]:
    return {"owner": owner, "admin": admin, "member": member, "outsider": outsider}


def client_for(user: User | None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def actor(user: User | None) -> Actor:
    return Actor(user=user, ip_address="203.0.113.7", user_agent="pytest")
