"""`make run`'s settings: DEBUG off, styled error pages, static files hashed, compressed and
cached by WhiteNoise, and a real broker (the embedded filesystem one) instead of eager tasks.

Runs the demo's settings in a subprocess with the environment the Makefile gives (`make
demo-env`), after the Makefile's collectstatic step, so the rest of the suite is unaffected.
"""

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.processes import run_script

ROOT = Path(__file__).resolve().parents[2]
YEAR = 365 * 24 * 3600


@pytest.fixture(scope="module")
def demo_env(tmp_path_factory) -> dict[str, str]:
    tmp = tmp_path_factory.mktemp("demo")
    makefile_env = subprocess.run(
        ["make", "-s", "demo-env"],  # noqa: S607 - make from PATH, as `make run` itself
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE", "REDIS"))
    }
    env.update(dict(pair.split("=", 1) for pair in shlex.split(makefile_env)))
    env.update(
        DATABASE_URL=f"sqlite:///{tmp / 'demo.sqlite3'}",
        STATIC_ROOT=str(tmp / "static"),
        CELERY_BROKER_FOLDER=str(tmp / "broker"),
        PYTHONPATH=str(ROOT),
        DJANGO_SETTINGS_MODULE="kilo_dashboard.settings",
    )
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--no-input", "-v0"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=300,
    )
    return env


@pytest.fixture(scope="module")
def demo(demo_env) -> dict:
    return run_script(Path(__file__).with_name("demo_pages.py"), demo_env, timeout=120)


def test_the_demo_runs_with_debug_off_and_a_real_broker(demo):
    assert demo["debug"] is False
    assert demo["celery_eager"] is False
    assert demo["broker"].startswith("filesystem://")
    assert demo["health"] == {"status": "ok", "database": "ok", "broker": "ok"}


def test_a_missing_page_is_our_styled_404_not_the_technical_page(demo):
    status, html = demo["missing"]
    assert status == 404
    assert "Page not found" in html
    assert 'class="topbar"' in html  # our layout
    assert "URLconf" not in html and "Django" not in html


def test_a_failing_page_is_our_styled_500(demo):
    status, html = demo["failed"]
    assert status == 500
    assert "Something went wrong on our side" in html
    assert 'class="topbar"' in html
    assert "Traceback" not in html and "boom" not in html


def test_static_files_are_hashed_compressed_and_cached_for_a_year(demo):
    plotly = demo["plotly"]
    assert demo["plotly_url"].startswith("/static/js/plotly-cartesian.")
    assert demo["plotly_url"] != "/static/js/plotly-cartesian.min.js"  # a content hash in the name
    assert plotly["status"] == 200
    assert plotly["encoding"] in {"br", "gzip"}
    assert plotly["bytes"] < 600_000  # 1.4 MB uncompressed
    assert "immutable" in plotly["cache"]
    max_age = int(plotly["cache"].split("max-age=")[1].split(",")[0])
    assert max_age >= YEAR
