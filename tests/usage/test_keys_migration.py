"""Migration 0008 rebuilds the de-duplication keys as (organization, UTC day, request id): the
keys stored before it must survive, each on the UTC day of its event. Run on a fresh database of
each kind the project supports, in a process of its own (the suite's database is migrated)."""

import os
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from tests.processes import own_environment, run_script


@pytest.fixture
def fresh_database_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'keys.sqlite3'}"
        return
    server = urlsplit(os.environ["DATABASE_URL"])
    name = f"kilo_keys_{uuid.uuid4().hex[:12]}"
    admin = urlunsplit(server._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(server._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.mark.parametrize("fresh_database_url", ["sqlite", "postgresql"], indirect=True)
def test_keys_stored_before_the_migration_are_kept_on_their_events_utc_day(fresh_database_url):
    env = own_environment(DJANGO_ENV="development", DATABASE_URL=fresh_database_url)
    got = run_script(Path(__file__).with_name("keys_migration.py"), env)
    # 23:30 UTC on Nov 2 stays on Nov 2 whatever the server's or the organization's zone.
    assert got["keys"] == ["7/2026-11-02/late-evening", "7/2026-11-05/noon"]
