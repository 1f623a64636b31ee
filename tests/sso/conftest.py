"""Real identity providers and a real DNS server, on loopback, started by the tests.

- OIDC: node-oidc-provider (tests/idp/oidc, installed by `make test` with npm ci), with its own
  login form, discovery, signed ID tokens;
- DNS: a dnslib server answering TXT records the test publishes, used through SSO_DNS_NAMESERVERS.
"""

import json
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from dnslib import QTYPE, RR, TXT
from dnslib.server import BaseResolver, DNSServer

from organizations.models import Membership, Plan, Role
from sso import crypto
from sso.models import Connection, Domain, DomainStatus
from tests.billing.localstripe import free_port
from tests.conftest import make_org, make_user

IDP_DIR = Path(__file__).resolve().parents[1] / "idp" / "oidc"
CLIENT_ID = "kilo-dashboard"
CLIENT_SECRET = "idp-client-secret-0123456789abcdef"  # noqa: S105 - the test IdP's client
# Fixed connection ids, so the IdP can be told the exact redirect URIs before it starts.
CONNECTION_ID = uuid.UUID("0f3c8e2a-6d1b-4c57-9a4e-3b2d1c0e9f71")


@dataclass
class IdP:
    issuer: str
    accounts: dict


def start_idp(
    redirect_uris: list[str], accounts: dict, redirect_uri_prefix: str = ""
) -> tuple[subprocess.Popen, str]:
    config = {
        "redirect_uri_prefix": redirect_uri_prefix,
        "clients": [
            {
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "redirect_uris": redirect_uris,
                "grant_types": ["authorization_code"],
                "response_types": ["code"],
            }
        ],
        "accounts": accounts,
    }
    process = subprocess.Popen(  # noqa: S603 - fixed arguments
        ["node", str(IDP_DIR / "server.mjs"), json.dumps(config)],  # noqa: S607
        cwd=IDP_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    line = process.stdout.readline()  # printed once it listens
    if not line:
        process.kill()
        raise RuntimeError("The test OpenID provider did not start (run `make test` once).")
    return process, json.loads(line)["issuer"]


ACCOUNTS = {
    "ada": {"email": "ada@lovelace.test", "name": "Ada Lovelace", "groups": ["engineering"]},
    "grace": {"email": "grace@lovelace.test", "name": "Grace Hopper", "groups": ["kilo-admins"]},
    "mallory": {"email": "mallory@elsewhere.test", "name": "Mallory", "groups": []},
}


def callback_path(connection_id: uuid.UUID = CONNECTION_ID) -> str:
    return f"/accounts/oidc/kilo-{connection_id.hex}/login/callback/"


@pytest.fixture(autouse=True)
def _eager_tasks():
    """Tasks run in-process (as in the demo), so a test sees their effect at once."""
    from kilo_dashboard.celery import app

    saved = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = saved


@pytest.fixture
def idp() -> Iterator[IdP]:
    """An IdP whose client redirects to the Django test client's host."""
    process, issuer = start_idp([f"http://testserver{callback_path()}"], ACCOUNTS)
    try:
        yield IdP(issuer=issuer, accounts=ACCOUNTS)
    finally:
        process.terminate()
        process.wait(timeout=10)


@dataclass
class Zone(BaseResolver):
    """TXT records by name; everything else NXDOMAIN."""

    records: dict[str, list[str]] = field(default_factory=dict)

    def resolve(self, request, handler):  # noqa: ANN001, ANN201
        reply = request.reply()
        name = str(request.q.qname).rstrip(".").lower()
        if request.q.qtype == QTYPE.TXT:
            for value in self.records.get(name, []):
                reply.add_answer(RR(name, QTYPE.TXT, rdata=TXT(value), ttl=60))
        if not reply.rr:
            reply.header.rcode = 3  # NXDOMAIN
        return reply


@pytest.fixture
def dns_zone(settings) -> Iterator[Zone]:
    zone = Zone()
    port = free_port()
    server = DNSServer(zone, port=port, address="127.0.0.1")
    server.start_thread()
    settings.SSO_DNS_NAMESERVERS = [f"127.0.0.1:{port}"]
    settings.SSO_DNS_TIMEOUT_SECONDS = 2
    try:
        yield zone
    finally:
        server.stop()


@pytest.fixture
def enterprise(db):
    """Lovelace Labs on Enterprise: an owner, an admin and a member, 4 seats."""
    org = make_org("lovelace", "Lovelace Labs", seats=4, plan=Plan.ENTERPRISE)
    people = {}
    for role, email in (
        (Role.OWNER, "owner@lovelace.test"),
        (Role.ADMIN, "admin@lovelace.test"),
        (Role.MEMBER, "member@lovelace.test"),
    ):
        user = make_user(email, email.split("@")[0].title())
        Membership.objects.create(organization=org, user=user, role=role)
        people[role] = user
    return org, people


def add_connection(org, issuer: str, *, tested: bool = False) -> Connection:
    from django.utils import timezone

    return Connection.objects.create(
        organization=org,
        public_id=CONNECTION_ID,
        name="Lovelace IdP",
        issuer_url=issuer,
        client_id=CLIENT_ID,
        client_secret_encrypted=crypto.encrypt(CLIENT_SECRET),
        client_secret_last4=CLIENT_SECRET[-4:],
        scopes="openid email profile groups",
        tested_at=timezone.now() if tested else None,
    )


def verified_domain(org, name: str = "lovelace.test") -> Domain:
    from datetime import timedelta

    from django.utils import timezone

    return Domain.objects.create(
        organization=org,
        name=name,
        verification_token="token",
        status=DomainStatus.VERIFIED,
        verified_at=timezone.now(),
        expires_at=timezone.now() + timedelta(days=7),
    )


def idp_sign_in(authorize_url: str, account: str) -> str:
    """Play the browser at the IdP: its login form, then its consent form. Returns the URL the IdP
    sends the browser back to (our callback, with code and state)."""
    import requests

    session = requests.Session()
    url = authorize_url
    for _ in range(12):
        response = session.get(url, allow_redirects=False, timeout=10)
        if response.status_code in (302, 303):
            url = requests.compat.urljoin(url, response.headers["Location"])
            if url.startswith("http://testserver"):
                return url
            continue
        assert response.status_code == 200, response.text[:500]
        prompt = "login" if 'name="login"' in response.text else "consent"
        data = {"prompt": prompt, "login": account, "password": "any"}
        response = session.post(url, data=data, allow_redirects=False, timeout=10)
        assert response.status_code in (302, 303), response.text[:500]
        url = requests.compat.urljoin(url, response.headers["Location"])
        if url.startswith("http://testserver"):
            return url
    raise AssertionError("The IdP never sent the browser back")


def sso_login(client, account: str, connection_id: uuid.UUID = CONNECTION_ID):  # noqa: ANN201
    """The whole SSO login as a browser does it; returns our callback's response."""
    start = client.post(f"/accounts/oidc/kilo-{connection_id.hex}/login/", {"process": "login"})
    assert start.status_code == 302, start.content[:500]
    back = idp_sign_in(start["Location"], account)
    return client.get(back.removeprefix("http://testserver"))


# The SAML IdP (pysaml2 on loopback) and its helpers live in tests/sso/saml_support.py.
from tests.sso.saml_support import saml_idp, saml_idp_factory  # noqa: E402, F401
