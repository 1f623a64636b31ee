"""Screenshots of the dashboard's pages in headless Chromium, for looking at what we built.

Usage: .venv/bin/python scripts/screenshots.py [BASE_URL] [OUT_DIR]
Needs a running server with the demo data (make run).
"""

import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

BASE = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000"
OUT = Path(sys.argv[2] if len(sys.argv) > 2 else "screenshots")
PASSWORD = "kilo-demo-pass"  # noqa: S105 - the demo's documented password
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

SHOTS = [
    # (persona email or None, path, file name, viewport width)
    (None, "/accounts/login/", "login", 1280),
    (None, "/accounts/login/", "login-narrow", 390),
    (None, "/accounts/signup/", "signup", 1280),
    (None, "/accounts/password/reset/", "password-reset", 1280),
    (None, "/accounts/confirm-email/", "verification-sent", 1280),
    (None, "/accounts/confirm-email/not-a-key/", "email-confirm-invalid", 1280),
    ("owner@acme.test", "/accounts/password/change/", "password-change", 1280),
    ("owner@acme.test", "/accounts/email/", "email-addresses", 1280),
    ("owner@acme.test", "/orgs/acme/organization/", "org-owner", 1280),
    ("admin@acme.test", "/orgs/acme/organization/", "org-admin", 1280),
    ("member@acme.test", "/orgs/acme/organization/", "org-member", 1280),
    ("member@acme.test", "/orgs/acme/organization/", "org-member-narrow", 390),
    ("owner@acme.test", "/orgs/acme/organization/invitations/new/", "invite", 1280),
    ("owner@acme.test", "/orgs/acme/usage/", "usage-owner", 1280),
    ("owner@acme.test", "/orgs/acme/usage/?range=90d&model=gpt-5", "usage-owner-filtered", 1280),
    ("owner@acme.test", "/orgs/acme/usage/", "usage-owner-narrow", 390),
    ("member@acme.test", "/orgs/acme/usage/", "usage-member", 1280),
    ("member@acme.test", "/orgs/acme/usage/", "usage-member-narrow", 390),
    ("owner@globex.test", "/orgs/globex/usage/", "usage-empty", 1280),
    ("owner@acme.test", "/orgs/acme/usage/keys/", "usage-ingest-keys", 1280),
    (None, "/api/v1/docs", "api-docs", 1280),
    ("owner@acme.test", "/orgs/acme/billing/", "billing-owner", 1280),
    ("admin@acme.test", "/orgs/acme/billing/", "billing-admin", 1280),
    ("owner@acme.test", "/orgs/acme/billing/", "billing-owner-narrow", 390),
    ("owner@acme.test", "/orgs/acme/billing/cards/new/", "billing-add-card", 1280),
    ("owner@acme.test", "/orgs/acme/subscriptions/", "subscriptions-owner", 1280),
    ("admin@acme.test", "/orgs/acme/subscriptions/", "subscriptions-admin", 1280),
    ("member@acme.test", "/orgs/acme/subscriptions/", "subscriptions-member", 1280),
    ("owner@acme.test", "/orgs/acme/subscriptions/", "subscriptions-owner-narrow", 390),
    (
        "owner@acme.test",
        "/orgs/acme/subscriptions/seats/preview/?seats=2",
        "subscriptions-add",
        1280,
    ),
    ("owner@acme.test", "/orgs/acme/subscriptions/cancel/", "subscriptions-cancel", 1280),
]


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        for email, path, name, width in SHOTS:
            context = browser.new_context(viewport={"width": width, "height": 900})
            page = context.new_page()
            if email:
                page.goto(f"{BASE}/accounts/login/")
                page.fill("input[name=login]", email)
                page.fill("input[name=password]", PASSWORD)
                page.click("form button[type=submit]")
                page.wait_for_load_state("networkidle")
            page.goto(BASE + path)
            page.screenshot(path=str(OUT / f"{name}.png"), full_page=True)
            print("wrote", OUT / f"{name}.png")
            context.close()
        browser.close()


if __name__ == "__main__":
    main()
