"""localstripe for the test session: one server per pytest (xdist) worker, on a free port.

The session fixture below is imported by tests/conftest.py, so every test (the access matrix
included) talks to a real, stateful fake Stripe, and nothing reaches the internet.
"""

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(port: int, process: subprocess.Popen, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"localstripe exited with code {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("localstripe did not start listening in time")


def start(port: int) -> subprocess.Popen:
    process = subprocess.Popen(  # noqa: S603 - fixed arguments
        [sys.executable, str(ROOT / "scripts" / "localstripe_server.py"), "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _wait_for(port, process)
    return process


@pytest.fixture(scope="session", autouse=True)
def localstripe_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from django.conf import settings

    port = free_port()
    process = start(port)
    url = f"http://127.0.0.1:{port}"
    saved = {
        name: getattr(settings, name)
        for name in ("STRIPE_API_BASE", "STRIPE_JS_URL", "STRIPE_API_DIALECT", "MEDIA_ROOT")
    }
    settings.STRIPE_API_BASE = url
    settings.STRIPE_JS_URL = f"{url}/js.stripe.com/v3/"
    settings.STRIPE_API_DIALECT = "localstripe"
    settings.MEDIA_ROOT = str(tmp_path_factory.mktemp("media"))  # documents never land in the repo
    try:
        yield url
    finally:
        for name, value in saved.items():
            setattr(settings, name, value)
        process.terminate()
        process.wait(timeout=10)


def register_webhook(name: str, url: str) -> None:
    """Have localstripe deliver its events to `url`, signed with our webhook secret."""
    import requests
    from django.conf import settings

    requests.post(
        f"{settings.STRIPE_API_BASE}/_config/webhooks/{name}",
        data={"url": url, "secret": settings.STRIPE_WEBHOOK_SECRET},
        timeout=10,
    )


@pytest.fixture
def deliver_webhooks_to(live_server) -> Iterator[str]:  # noqa: ANN001
    """localstripe delivers to the (session-wide) live server during this test only: later
    tests deliver their events by hand, and must not race with a background delivery."""
    register_webhook("live", f"{live_server.url}/stripe/webhook/")
    try:
        yield live_server.url
    finally:
        register_webhook("live", "http://127.0.0.1:9/discard")  # localstripe cannot unregister
