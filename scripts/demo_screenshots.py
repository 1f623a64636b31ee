"""Screenshots of every tab of both demo organizations, as their owners, at 1366 and 390 px.

Usage: .venv/bin/python scripts/demo_screenshots.py [BASE_URL] [OUT_DIR] [NAME_FILTER]
Needs the demo serving (make run). Files are named <org>-<tab>-<width>.png.
"""

import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

BASE = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000"
OUT = Path(sys.argv[2] if len(sys.argv) > 2 else "screenshots/demo")
ONLY = sys.argv[3] if len(sys.argv) > 3 else ""
PASSWORD = "kilo-demo-pass"  # noqa: S105 - the demo's documented password
OWNERS = {"acme": "owner@acme.test", "globex": "owner@globex.test"}
TABS = ["organization", "usage", "billing", "subscriptions", "providers", "sso", "audit"]
WIDTHS = [1366, 390]
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        for slug, email in OWNERS.items():
            for width in WIDTHS:
                context = browser.new_context(viewport={"width": width, "height": 900})
                context.set_default_timeout(120_000)  # a loaded machine
                page = context.new_page()
                page.goto(f"{BASE}/accounts/login/")
                page.fill("input[name=login]", email)
                page.fill("input[name=password]", PASSWORD)
                page.click("form button[type=submit]")
                page.wait_for_load_state("networkidle")
                for tab in TABS:
                    name = f"{slug}-{tab}-{width}"
                    if ONLY not in name:
                        continue
                    page.goto(f"{BASE}/orgs/{slug}/{tab}/")
                    page.wait_for_load_state("networkidle")
                    page.screenshot(path=str(OUT / f"{name}.png"), full_page=True)
                    print("wrote", OUT / f"{name}.png")
                context.close()
        browser.close()


if __name__ == "__main__":
    main()
