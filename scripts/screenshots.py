"""Screenshots of the dashboard's pages in headless Chromium, for looking at what we built.

Usage: .venv/bin/python scripts/screenshots.py [BASE_URL] [OUT_DIR] [NAME_FILTER]
Needs a running server with the demo data (make run), and `make run`'s environment (`make
demo-env`) for the pages rendered here rather than requested (the 500 and CSRF pages).
"""

import os
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

BASE = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000"
OUT = Path(sys.argv[2] if len(sys.argv) > 2 else "screenshots")
ONLY = sys.argv[3] if len(sys.argv) > 3 else ""
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
    ("owner@acme.test", "/orgs/acme/usage/", "usage-owner-1366", 1366),
    ("owner@acme.test", "/orgs/acme/usage/?range=period", "usage-owner-period-1366", 1366),
    ("owner@acme.test", "/orgs/acme/usage/?range=period", "usage-owner-period-narrow", 390),
    ("owner@acme.test", "/orgs/acme/usage/?range=7d", "usage-owner-7d-narrow", 390),
    # Error pages: an outsider's 404, a member's 403, and the admin's forged invitation role.
    ("owner@globex.test", "/orgs/acme/usage/", "error-404-1366", 1366),
    ("owner@globex.test", "/orgs/acme/usage/", "error-404-narrow", 390),
    ("member@acme.test", "/orgs/acme/organization/invitations/new/", "error-403-1366", 1366),
    ("member@acme.test", "/orgs/acme/organization/invitations/new/", "error-403-narrow", 390),
    ("admin@acme.test", "/orgs/acme/organization/invitations/new/", "invite-admin", 1366),
    # The Enterprise tabs: Globex is on Enterprise, Acme (Teams) sees the upgrade panels.
    ("owner@globex.test", "/orgs/globex/providers/", "providers-enterprise-1366", 1366),
    ("owner@globex.test", "/orgs/globex/providers/", "providers-enterprise-narrow", 390),
    ("owner@acme.test", "/orgs/acme/providers/", "providers-teams", 1366),
    ("member@acme.test", "/orgs/acme/providers/", "providers-member", 1366),
    ("owner@globex.test", "/orgs/globex/sso/", "sso-enterprise-1366", 1366),
    ("owner@globex.test", "/orgs/globex/sso/", "sso-enterprise-narrow", 390),
    ("owner@acme.test", "/orgs/acme/sso/", "sso-teams", 1366),
    ("owner@globex.test", "/orgs/globex/audit/", "audit-enterprise-1366", 1366),
    ("owner@globex.test", "/orgs/globex/audit/", "audit-enterprise-narrow", 390),
    ("owner@acme.test", "/orgs/acme/audit/", "audit-teams", 1366),
    ("owner@acme.test", "/account/", "account", 1366),
    ("owner@acme.test", "/orgs/acme/billing/", "billing-owner-1366", 1366),
    ("admin@acme.test", "/orgs/acme/organization/", "org-admin-narrow", 390),
]
# Pages Django renders without a request (no URL shows them on a healthy server).
RENDERED = [("500.html", "error-500", 1366), ("500.html", "error-500-narrow", 390)]
RENDERED += [("403_csrf.html", "error-csrf-1366", 1366)]


def rendered_html(template: str) -> str:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kilo_dashboard.settings")
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    django.setup()
    from django.template.loader import render_to_string

    return render_to_string(template, {}).replace("<head>", f'<head><base href="{BASE}/">', 1)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        for template, name, width in RENDERED:
            if ONLY not in name:
                continue
            context = browser.new_context(viewport={"width": width, "height": 900})
            page = context.new_page()
            page.goto(f"{BASE}/healthz")  # same origin, so the page's /static/ links load
            page.set_content(rendered_html(template), wait_until="networkidle")
            page.screenshot(path=str(OUT / f"{name}.png"), full_page=True)
            print("wrote", OUT / f"{name}.png")
            context.close()
        for email, path, name, width in SHOTS:
            if ONLY not in name:
                continue
            context = browser.new_context(viewport={"width": width, "height": 900})
            context.set_default_timeout(120_000)  # a loaded machine
            page = context.new_page()
            if email:
                page.goto(f"{BASE}/accounts/login/")
                page.fill("input[name=login]", email)
                page.fill("input[name=password]", PASSWORD)
                page.click("form button[type=submit]")
                page.wait_for_load_state("networkidle")
            page.goto(BASE + path)
            page.wait_for_load_state("networkidle")
            page.screenshot(path=str(OUT / f"{name}.png"), full_page=True)
            print("wrote", OUT / f"{name}.png")
            context.close()
        browser.close()


if __name__ == "__main__":
    main()
