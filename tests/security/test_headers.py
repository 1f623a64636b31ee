"""Content-Security-Policy on every page, no inline script to need an exception, and
`Cache-Control: private, no-store` on signed-in pages and downloads (issue 9, item 9)."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from tests.conftest import client_for

pytestmark = pytest.mark.django_db

TEMPLATES = Path(settings.BASE_DIR) / "templates"


def _directives(response) -> dict[str, list[str]]:  # noqa: ANN001
    header = response["Content-Security-Policy"]
    parts = (part.split() for part in header.split(";") if part.strip())
    return {name: values for name, *values in parts}


@pytest.mark.parametrize(
    ("url", "signed_in"),
    [
        ("/accounts/login/", False),
        ("/accounts/signup/", False),
        ("/orgs/acme/organization/", True),
        ("/orgs/acme/usage/", True),
        ("/orgs/acme/billing/", True),
        ("/orgs/acme/billing/cards/new/", True),
        ("/orgs/acme/subscriptions/", True),
        ("/no-such-page/", True),
    ],
)
def test_every_page_carries_a_policy_without_inline_scripts(org, owner, url, signed_in):
    response = client_for(owner if signed_in else None).get(url)
    directives = _directives(response)
    assert directives["default-src"] == ["'self'"]
    assert "'unsafe-inline'" not in directives["script-src"]
    assert "'unsafe-eval'" not in directives["script-src"]
    assert directives["object-src"] == ["'none'"]
    assert directives["frame-ancestors"] == ["'none'"]


def test_stripe_js_may_load_and_frame_and_call_its_api(org, owner):
    response = client_for(owner).get(reverse("billing_card_new", args=[org.slug]))
    assert response.status_code == 200
    stripe_origin = "/".join(settings.STRIPE_JS_URL.split("/")[:3])
    directives = _directives(response)
    for directive in ("script-src", "frame-src", "connect-src"):
        assert stripe_origin in directives[directive]
    html = response.content.decode()
    assert f'<script src="{settings.STRIPE_JS_URL}">' in html
    assert "/static/js/stripe-card-setup.js" in html


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", re.I)
INLINE_HANDLER = re.compile(r"\son[a-z]+\s*=\s*[\"']", re.I)


def test_no_template_has_an_inline_script_or_event_handler():
    offenders = []
    for path in TEMPLATES.rglob("*.html"):
        text = path.read_text()
        if INLINE_SCRIPT.search(text) or INLINE_HANDLER.search(text):
            offenders.append(str(path.relative_to(TEMPLATES)))
    assert offenders == []


@pytest.mark.parametrize(
    "url",
    [
        "/orgs/acme/organization/",
        "/orgs/acme/usage/",
        "/orgs/acme/usage/export.csv?range=30d",
        "/orgs/acme/billing/",
        "/orgs/acme/billing/history.csv",
    ],
)
def test_signed_in_pages_and_exports_are_not_stored_by_any_cache(org, owner, url):
    response = client_for(owner).get(url)
    assert response.status_code == 200
    assert response["Cache-Control"] == "private, no-store"
