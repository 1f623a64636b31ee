"""Production settings: deploy checks pass, and a missing secret stops the start clearly."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION_ENV = {
    "DJANGO_ENV": "production",
    "SECRET_KEY": "k" * 20 + "-production-test-secret-with-enough-entropy-0123456789",
    "ALLOWED_HOSTS": "kilo.example.com",
    "SITE_URL": "https://kilo.example.com",
    "DATABASE_URL": "postgres://postgres:postgres@127.0.0.1:5432/kilo",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "EMAIL_HOST": "smtp.example.com",
    "STRIPE_SECRET_KEY": "sk_live_production_test",
    "STRIPE_PUBLISHABLE_KEY": "pk_live_production_test",
    "STRIPE_WEBHOOK_SECRET": "whsec_production_test",
    "SSO_ENCRYPTION_KEYS": "mK2jB3b0bA4c8nWq9y1ZxQ0aYc5e7g9iK1m3o5q7s9U=",
}


def run_manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE", "REDIS"))
    }
    return subprocess.run(  # noqa: S603 - fixed arguments
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_check_deploy_is_clean_in_production_mode():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize("missing", ["SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "REDIS_URL"])
def test_a_missing_production_secret_fails_at_start_with_a_clear_message(missing):
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != missing}
    result = run_manage("check", env=env)
    assert result.returncode != 0
    assert missing in result.stderr
    assert "must be set in production" in result.stderr


def test_an_invalid_boolean_fails_clearly():
    result = run_manage("check", env={"DJANGO_ENV": "development", "DEBUG": "maybe"})
    assert result.returncode != 0
    assert "DEBUG must be a boolean" in result.stderr


def test_without_a_broker_tasks_run_eagerly():
    result = run_manage(
        "shell",
        "-c",
        "from django.conf import settings; print(settings.CELERY_TASK_ALWAYS_EAGER)",
        env={"DJANGO_ENV": "development", "DATABASE_URL": "sqlite:////tmp/kilo-eager.db"},
    )
    assert result.stdout.strip().splitlines()[-1] == "True", result.stderr


def test_celery_uses_json_and_has_a_beat_schedule():
    from django.conf import settings

    assert settings.CELERY_TASK_SERIALIZER == "json"
    assert settings.CELERY_ACCEPT_CONTENT == ["json"]
    assert settings.CELERY_TASK_TIME_LIMIT > settings.CELERY_TASK_SOFT_TIME_LIMIT
    assert "expire-invitations" in settings.CELERY_BEAT_SCHEDULE
    assert settings.CELERY_TASK_ALWAYS_EAGER is False  # the test run has Redis as broker
