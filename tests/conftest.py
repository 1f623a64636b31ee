"""Personas and shared fixtures.

Personas: an owner, an admin and a member of "Acme Robotics", and an outsider who owns another
organization ("Initech"). Every test database is PostgreSQL; each xdist worker gets its own
database (pytest-django) and its own Redis database for the cache (below).
"""

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from allauth.account.models import EmailAddress
from celery.result import allow_join_result
from django.core.cache import cache
from django.test import Client

from accounts.models import User
from audit.services import Actor
from organizations.models import Membership, Organization, Plan, Role

PASSWORD = "correct-horse-battery-staple"


def _worker_index() -> int:
    return int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))


def pytest_configure(config: pytest.Config) -> None:
    # Each parallel worker gets its own Redis databases: the cache (cleared between tests; rate
    # limits live there) in db 1+n and the Celery broker/results in db 8+n, so that one
    # worker's Celery tasks are never consumed by another worker's Celery process.
    from django.conf import settings

    n = _worker_index()
    # Personas are created with passwords; the default hasher costs ~0.2 s per user.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    if settings.CACHES["default"]["BACKEND"].endswith("RedisCache"):
        base = settings.CACHES["default"]["LOCATION"].rsplit("/", 1)[0]
        settings.CACHES["default"]["LOCATION"] = f"{base}/{1 + n}"
    if not settings.CELERY_TASK_ALWAYS_EAGER:
        base = settings.CELERY_BROKER_URL.rsplit("/", 1)[0]
        settings.CELERY_BROKER_URL = settings.CELERY_RESULT_BACKEND = f"{base}/{8 + n}"


DB_FIXTURES = {"db", "transactional_db", "celery_worker", "live_server"}
CATALOG_TABLES = ("providers_provider", "providers_catalogmodel", "providers_modelprice")
_catalog_copy: dict[str, bytes] = {}


def _load_catalog() -> None:
    """Sync the bundled catalog once, then restore it with COPY after each flush (a
    transactional test empties every table): 0.1 s instead of a full sync."""
    from django.db import connection, transaction

    from audit.models import AuditEvent
    from providers.catalog_sync import catalog_sync
    from providers.models import CatalogModel

    try:
        if CatalogModel.objects.exists():
            return
        if not _catalog_copy or connection.vendor != "postgresql":
            catalog_sync()
            # The catalog is a fixture here, not a change under test: tests count audit rows.
            # Audit rows are append-only: only the maintenance role may delete them, and the
            # test connection is a superuser, which may take that role for this transaction.
            with transaction.atomic():
                if connection.vendor == "postgresql":
                    with connection.cursor() as cursor:
                        cursor.execute("SET LOCAL ROLE kilo_maintenance")
                AuditEvent.objects.filter(action="providers.catalog_synced").delete()
            if connection.vendor != "postgresql":
                return
            with connection.cursor() as cursor:
                for table in CATALOG_TABLES:
                    with cursor.copy(f"COPY {table} TO STDOUT") as copy:  # noqa: S608
                        _catalog_copy[table] = b"".join(bytes(chunk) for chunk in copy)
            return
        with connection.cursor() as cursor:
            for table in CATALOG_TABLES:
                with cursor.copy(f"COPY {table} FROM STDIN") as copy:  # noqa: S608
                    copy.write(_catalog_copy[table])
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                    f"GREATEST((SELECT MAX(id) FROM {table}), nextval(pg_get_serial_sequence("
                    f"'{table}', 'id'))))"
                )
    finally:
        connection.close()


@pytest.fixture(autouse=True)
def _model_catalog(request):
    """The bundled model catalog, committed in every test database (usage prices come from it).

    Loaded in a thread of its own, i.e. on a connection of its own, so that it is committed
    even when the test's transaction is already open (READ COMMITTED: the test sees it).
    """
    uses_db = request.node.get_closest_marker("django_db") or DB_FIXTURES & set(
        request.fixturenames
    )
    if not uses_db:
        return
    request.getfixturevalue("django_db_setup")
    errors = []

    def load() -> None:
        try:
            _load_catalog()
        except Exception as error:  # noqa: BLE001 - re-raised in the test's thread
            errors.append(error)

    with request.getfixturevalue("django_db_blocker").unblock():
        thread = threading.Thread(target=load)
        thread.start()
        thread.join()
    if errors:
        raise errors[0]


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


@pytest.fixture
def celery_worker(transactional_db):
    """A real Celery worker process on this test's database and this pytest worker's broker.

    Tests using it must commit their data (this fixture implies transactional_db) because the
    worker reads the database through its own connection.
    """
    from django.conf import settings
    from django.db import connection

    from kilo_dashboard.celery import app

    db = connection.settings_dict
    database_url = (
        f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    )
    env = {
        **os.environ,
        "DJANGO_ENV": "test",
        "DATABASE_URL": database_url,
        "REDIS_URL": settings.CELERY_BROKER_URL,
    }
    app.control.purge()
    process = subprocess.Popen(  # noqa: S603 - fixed arguments
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "kilo_dashboard",
            "worker",
            "--pool",
            "solo",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
            "--loglevel",
            "WARNING",
        ],
        cwd=Path(__file__).resolve().parent.parent,
        env=env,
    )
    try:
        # An eager task run earlier in this process leaves Celery believing it is inside a task,
        # where result.get() is refused; here the test really is a client waiting on a worker.
        with allow_join_result():
            yield app
    finally:
        process.terminate()
        process.wait(timeout=30)


# A localstripe server (fake Stripe) per test session; see tests/billing/localstripe.py.
from tests.billing.localstripe import localstripe_url  # noqa: E402, F401
