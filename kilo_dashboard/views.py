import os

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except Exception:  # noqa: BLE001 - any failure means "down"
        return False


def _broker_status() -> str:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return "eager"  # tasks run in-process: there is no broker to be down
    if settings.CELERY_BROKER_URL.startswith("filesystem://"):  # the demo broker: a folder
        queue = settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"]
        return "ok" if os.access(queue, os.W_OK) else "down"
    try:
        client = redis.Redis.from_url(
            settings.CELERY_BROKER_URL, socket_connect_timeout=1, socket_timeout=1
        )
        return "ok" if client.ping() else "down"
    except redis.RedisError:
        return "down"


def _checks() -> dict[str, str]:
    database = "ok" if _database_ok() else "down"
    broker = _broker_status()
    healthy = database == "ok" and broker != "down"
    return {"status": "ok" if healthy else "unhealthy", "database": database, "broker": broker}


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    checks = _checks()
    return JsonResponse(checks, status=200 if checks["status"] == "ok" else 503)


BROKER_LABELS = {
    "ok": "Running",
    "eager": "Running in the web process (demo mode)",
    "down": "Unreachable: usage figures, emails and documents are delayed",
}


@never_cache
@require_GET
def status_page(request: HttpRequest) -> HttpResponse:
    """The footer's "status" link: the health checks in words (the JSON stays at /healthz)."""
    checks = _checks()
    rows = [
        ("Website", "ok", "Running"),
        (
            "Database",
            checks["database"],
            "Running" if checks["database"] == "ok" else "Unreachable: pages cannot load data",
        ),
        ("Background jobs", checks["broker"], BROKER_LABELS[checks["broker"]]),
    ]
    return render(
        request,
        "status.html",
        {"healthy": checks["status"] == "ok", "rows": rows, "checked_at": timezone.now()},
        status=200 if checks["status"] == "ok" else 503,
    )
