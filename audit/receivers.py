"""Thin receivers: Django's authentication signals (allauth signs in and out through
django.contrib.auth) and Celery's task signals (the ambient actor of system work)."""

from typing import Any

from celery import signals as celery_signals
from django.contrib.auth import get_user_model
from django.contrib.auth import signals as auth_signals
from django.dispatch import receiver

from . import context
from .models import ActorType
from .services import sign_in_record


def _over_http(request: Any) -> bool:
    """A sign-in through a web server (WSGI/ASGI always set REMOTE_ADDR). Logins made in-process
    without one (Django's test client force_login, a shell) are no one signing in at a browser."""
    return bool(getattr(request, "META", {}).get("REMOTE_ADDR"))


@receiver(auth_signals.user_logged_in, dispatch_uid="audit_signed_in")
def _signed_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if _over_http(request):
        sign_in_record(action="auth.signed_in", request=request, account=user)


@receiver(auth_signals.user_logged_out, dispatch_uid="audit_signed_out")
def _signed_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is not None and _over_http(request):  # an anonymous session's sign-out is no event
        sign_in_record(action="auth.signed_out", request=request, account=user)


@receiver(auth_signals.user_login_failed, dispatch_uid="audit_sign_in_failed")
def _sign_in_failed(sender: Any, credentials: dict, request: Any = None, **kwargs: Any) -> None:
    if not _over_http(request):
        return
    # Django has already replaced the password by stars; only the address is used.
    email = str(credentials.get("email") or credentials.get("username") or "").strip()[:254]
    account = get_user_model().objects.filter(email__iexact=email).first() if email else None
    sign_in_record(action="auth.sign_in_failed", request=request, account=account, email=email)


_task_tokens: dict[str, Any] = {}


@celery_signals.task_prerun.connect(dispatch_uid="audit_task_prerun")
def _task_started(task_id: str, task: Any, **kwargs: Any) -> None:
    _task_tokens[task_id] = context.enter(ActorType.SYSTEM, f"task {task.name}")


@celery_signals.task_postrun.connect(dispatch_uid="audit_task_postrun")
def _task_finished(task_id: str, **kwargs: Any) -> None:
    token = _task_tokens.pop(task_id, None)
    if token is not None:
        context.leave(token)
