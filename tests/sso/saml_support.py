"""A real SAML IdP (pysaml2, tests/idp/saml/server.py) on loopback, and the browser's part of a
SAML login played with `requests` (the IdP) and Django's test client (us)."""

import json
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import pytest
import requests
from django.core.cache import cache

from sso import crypto, saml
from sso.models import Connection, Protocol
from tests.idp.saml.keys import KeyPair, make_keypair

SERVER = Path(__file__).resolve().parents[1] / "idp" / "saml" / "server.py"
SAML_CONNECTION_ID = uuid.UUID("5a1d0c3e-8b7f-4e21-9c6d-2f4a8e1b7c90")
SAML_PROVIDER_ID = f"kilo-{SAML_CONNECTION_ID.hex}"
# python3-saml refuses single-label host names such as the test client's "testserver" in SP URLs
# (localhost is allowed), so the SAML tests browse us as http://localhost.
SP_HOST = "localhost"


def sp_client():  # noqa: ANN201 - django.test.Client
    from django.test import Client

    return Client(HTTP_HOST=SP_HOST)


@dataclass
class SamlIdP:
    entity_id: str
    metadata_url: str
    sso_url: str
    keys: KeyPair
    slo_url: str = ""

    def log(self) -> dict:
        """What the IdP saw of single logout (its /admin/log)."""
        return requests.get(self.metadata_url.replace("/metadata", "/admin/log"), timeout=10).json()

    def start_logout(self, sp_entity_id: str, email: str, *, signed: bool = True) -> str:
        """IdP-initiated logout: the URL (our sls endpoint) the IdP sends the browser to."""
        response = requests.post(
            self.metadata_url.replace("/metadata", "/admin/logout"),
            data={"sp": sp_entity_id, "email": email, "unsigned": "" if signed else "1"},
            timeout=10,
        )
        assert response.status_code == 200, response.text[:500]
        return response.json()["url"]

    def register_sp(self, *, xml: str = "", url: str = "") -> None:
        """What the IdP's administrator does with the values our SSO tab shows."""
        response = requests.post(
            self.metadata_url.replace("/metadata", "/admin/sp"),
            data={"xml": xml} if xml else {"url": url},
            timeout=10,
        )
        assert response.status_code == 204, response.text[:500]


@pytest.fixture
def saml_idp_factory(tmp_path: Path) -> Iterator[Callable[..., SamlIdP]]:
    """Start IdPs: keys (default: fresh ones), accounts, and the server's options."""
    processes: list[subprocess.Popen] = []

    def start(*, keys: KeyPair | None = None, accounts: dict | None = None, **options) -> SamlIdP:
        from tests.sso.conftest import ACCOUNTS

        keys = keys or make_keypair(tmp_path / f"idp{len(processes)}", "idp")
        config = {
            "key_file": str(keys.key_file),
            "cert_file": str(keys.cert_file),
            "accounts": accounts or ACCOUNTS,
            **options,
        }
        process = subprocess.Popen(  # noqa: S603 - fixed arguments
            [sys.executable, str(SERVER), json.dumps(config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        processes.append(process)
        line = process.stdout.readline()
        if not line:
            raise RuntimeError("The test SAML IdP did not start (xmlsec1 and pysaml2 installed?)")
        info = json.loads(line)
        # allauth caches IdP metadata by URL; a port reused by a later test must not see it.
        cache.delete(f"saml.metadata.{info['metadata_url']}.{info['entity_id']}")
        return SamlIdP(keys=keys, **info)

    yield start
    for process in processes:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def saml_idp(saml_idp_factory) -> SamlIdP:
    return saml_idp_factory()


def add_saml_connection(
    org,
    idp: SamlIdP,
    *,
    tested: bool = False,
    entity_id: str = "",
    cert_pem: str = "",
    slo_url: str = "",
) -> Connection:
    """A SAML connection entered by hand (entity id, SSO URL, certificate), as the form does."""
    from django.utils import timezone

    private_pem, sp_cert = saml.sp_keypair("Lovelace SAML")
    return Connection.objects.create(
        organization=org,
        public_id=SAML_CONNECTION_ID,
        protocol=Protocol.SAML,
        name="Lovelace SAML",
        saml_entity_id=entity_id or idp.entity_id,
        saml_sso_url=idp.sso_url,
        saml_x509cert=saml.certificate_body(cert_pem or idp.keys.cert_pem),
        saml_slo_url=slo_url,
        saml_sp_private_key_encrypted=crypto.encrypt(private_pem),
        saml_sp_x509cert=sp_cert,
        tested_at=timezone.now() if tested else None,
    )


def register_with_idp(client, idp: SamlIdP, provider_id: str = SAML_PROVIDER_ID) -> None:
    """Give the IdP our SP metadata, as served at our metadata URL."""
    metadata = client.get(f"/accounts/saml/{provider_id}/metadata/")
    assert metadata.status_code == 200, metadata.content[:500]
    idp.register_sp(xml=metadata.content.decode())


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.action, self.fields = "", {}

    def handle_starttag(self, tag: str, attrs: list) -> None:
        attributes = dict(attrs)
        if tag == "form":
            self.action = attributes.get("action", "")
        elif tag == "input" and attributes.get("name"):
            self.fields[attributes["name"]] = attributes.get("value") or ""


def parse_form(html: str) -> tuple[str, dict]:
    parser = _Forms()
    parser.feed(html)
    return parser.action, parser.fields


def idp_response(client, account: str, provider_id: str = SAML_PROVIDER_ID) -> dict:
    """Start a login with us, sign in at the IdP; returns the form the IdP has the browser POST
    to our ACS (SAMLResponse, RelayState), not yet posted."""
    start = client.post(f"/accounts/saml/{provider_id}/login/", {"process": "login"})
    assert start.status_code == 302, start.content[:500]
    session = requests.Session()
    login_page = session.get(start["Location"], timeout=10)
    assert login_page.status_code == 200, login_page.text[:500]
    action, fields = parse_form(login_page.text)
    fields |= {"username": account, "password": "any"}
    answer = session.post(requests.compat.urljoin(login_page.url, action), data=fields, timeout=10)
    assert answer.status_code == 200, answer.text[:500]
    acs, fields = parse_form(answer.text)
    assert acs == f"http://{SP_HOST}/accounts/saml/{provider_id}/acs/", acs
    return fields


def post_to_acs(client, fields: dict, provider_id: str = SAML_PROVIDER_ID):  # noqa: ANN201
    """The browser POSTs the IdP's form to our ACS, which hands over to allauth's finish view."""
    posted = client.post(f"/accounts/saml/{provider_id}/acs/", fields)
    assert posted.status_code == 302, posted.content[:500]
    return client.get(posted["Location"])


def saml_login(client, account: str, provider_id: str = SAML_PROVIDER_ID):  # noqa: ANN201
    return post_to_acs(client, idp_response(client, account, provider_id), provider_id)
