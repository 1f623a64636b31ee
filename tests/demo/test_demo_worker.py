"""`make run`'s worker: a real Celery worker with beat on kombu's filesystem broker and the demo's
SQLite database, started by scripts/with-worker.sh and stopped when its command ends.

A task queued the way the web server queues it (on the broker, not run in-process) is run by
that worker; afterwards no worker process is left. Runs in subprocesses with the Makefile's
environment (`make demo-env`), so the rest of the suite stays on PostgreSQL and Redis.
"""

import os
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STEPS = str(Path(__file__).with_name("demo_worker_steps.py"))


def _run(args: list[str], env: dict, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 - fixed arguments
        args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


def test_a_queued_task_is_run_by_the_demo_worker_which_stops_with_the_command(tmp_path):
    makefile_env = _run(["make", "-s", "demo-env"], os.environ.copy()).stdout  # noqa: S607
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE", "REDIS"))
    }
    env.update(dict(pair.split("=", 1) for pair in shlex.split(makefile_env)))
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'demo.sqlite3'}",
        CELERY_BROKER_FOLDER=str(tmp_path / "broker"),
        CELERY_DIR=str(tmp_path / "celery"),
        PYTHONPATH=str(ROOT),
        DJANGO_SETTINGS_MODULE="kilo_dashboard.settings",
    )
    assert env["CELERY_BROKER_URL"].startswith("filesystem://")
    migrate = _run([sys.executable, "manage.py", "migrate", "--no-input", "-v0"], env)
    assert migrate.returncode == 0, migrate.stderr
    setup = _run([sys.executable, STEPS, "setup"], env)
    assert setup.returncode == 0, setup.stderr
    assert len(list((tmp_path / "broker" / "queue").iterdir())) == 1  # queued, not run

    waited = _run(["scripts/with-worker.sh", sys.executable, STEPS, "wait"], env)

    log = (tmp_path / "celery" / "worker.log").read_text()
    assert waited.returncode == 0, log
    assert "organizations.tasks.expire_invitations" in log and "succeeded" in log
    assert "beat: Starting" in log
    assert list((tmp_path / "broker" / "queue").iterdir()) == []
    still_running = _run(["pgrep", "-f", f"--schedule {tmp_path}"], env)  # noqa: S607
    assert still_running.stdout == ""  # the worker stopped with the command
