"""Browser fixtures: Playwright driving Debian's Chromium against pytest-django's live server.

Playwright's sync API keeps an asyncio loop registered as running on the main thread for as long as
it is started, and Django refuses ORM calls from such a thread. So Playwright is started per test
(never per session, which would leak the loop into every later test of the worker), and
DJANGO_ALLOW_ASYNC_UNSAFE is set only while it runs: the test's own ORM calls are synchronous and
the live server answers the browser from its own threads.
"""

from collections.abc import Callable, Iterator

import pytest
from django.db import connections
from playwright.sync_api import Browser, Page, expect, sync_playwright

CHROMIUM = "/usr/bin/chromium"
# The same flags as scripts/screenshots.py: headless Chromium in a container, nothing phoning home.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Generous ceilings for a loaded CI machine; expect() retries until then, so nothing sleeps.
ACTION_TIMEOUT_MS = 15_000
EXPECT_TIMEOUT_MS = 10_000


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch) -> Iterator[Browser]:
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()
            # While the loop runs, asgiref hands the test's ORM calls a connection of their own
            # (connections are context-local, not thread-local, under a running loop). Close it
            # here, in that same context, or it outlives the test and blocks dropping the test DB.
            connections.close_all()


@pytest.fixture
def new_page(browser: Browser) -> Iterator[Callable[..., Page]]:
    """Open a page in a fresh browser context (its own cookies: one context per person).

    Whatever the Content-Security-Policy blocked on any page fails the test: a script, frame or
    request the product needs must be allowed by the policy, not silently missing.
    """
    contexts = []
    blocked: list[str] = []

    def watch(message) -> None:  # noqa: ANN001 - playwright's ConsoleMessage
        if "Content Security Policy" in message.text:
            blocked.append(message.text)

    def open_page(width: int = 1280) -> Page:
        context = browser.new_context(viewport={"width": width, "height": 900})
        context.set_default_timeout(ACTION_TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        page.on("console", watch)
        return page

    yield open_page
    for context in contexts:
        context.close()
    assert blocked == [], "The Content-Security-Policy blocked something the page uses"


# The SSO fixtures (an Enterprise organization, a DNS server on loopback) for tests/e2e/test_sso.py.
from tests.sso.conftest import dns_zone, enterprise, saml_idp, saml_idp_factory  # noqa: E402, F401


@pytest.fixture
def eager_tasks() -> Iterator[None]:
    """Celery tasks run in the live server's thread (as in the demo without a worker), so what
    a page queues (emails, payment checks, domain checks) is done when the next step looks."""
    from kilo_dashboard.celery import app

    saved = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = saved
