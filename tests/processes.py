"""Run a script of the test suite in a Django process of its own, on a database of its own
(the suite's database is PostgreSQL and already migrated): the SQLite demo, a fresh database
to migrate, and the like. The script prints its findings as JSON on its last line."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def own_environment(**settings: str) -> dict[str, str]:
    """This process's environment without its Django, database and Redis settings, plus
    `settings` (DATABASE_URL at least) and what a script needs to import the project."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE", "REDIS"))
    }
    env.update(PYTHONPATH=str(ROOT), DJANGO_SETTINGS_MODULE="kilo_dashboard.settings")
    env.update(settings)
    return env


def run_script(script: Path, env: dict[str, str], *args: str, timeout: int = 300) -> dict:
    """Run `script` with `env`; fail the test with its stderr if it fails, else its JSON."""
    result = subprocess.run(  # noqa: S603 - the suite's own scripts
        [sys.executable, str(script), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])
