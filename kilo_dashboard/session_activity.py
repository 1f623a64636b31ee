"""Last-seen times of signed-in sessions, for the Account page, at almost no cost per request.

allauth.usersessions records a session when someone signs in. Its own activity tracking would
write that row on every request; here the time of the last write is kept in the session itself
(read anyway), and the row is updated at most every few minutes.
"""

from datetime import datetime, timedelta

from allauth.usersessions.models import UserSession
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

ACTIVITY_KEY = "_kilo_activity_at"
EVERY = timedelta(minutes=5)


def note_sign_in(sender: object, request: HttpRequest | None, **kwargs: object) -> None:
    """user_logged_in receiver: allauth just wrote the row with "now"; start the clock there."""
    if request is not None and hasattr(request, "session"):
        request.session[ACTIVITY_KEY] = timezone.now().isoformat()


def _due(request: HttpRequest) -> bool:
    seen = request.session.get(ACTIVITY_KEY)
    if not seen:
        return True
    try:
        return timezone.now() - datetime.fromisoformat(seen) >= EVERY
    except ValueError:
        return True


class SessionActivityMiddleware:
    def __init__(self, get_response) -> None:  # noqa: ANN001
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        session = getattr(request, "session", None)
        signed_in = user is not None and user.is_authenticated
        if signed_in and session and session.session_key and _due(request):
            self._record(request)
        return self.get_response(request)

    @staticmethod
    def _record(request: HttpRequest) -> None:
        now = timezone.now()
        user_agent = request.META.get("HTTP_USER_AGENT", "")[:200]
        updated = UserSession.objects.filter(
            session_key=request.session.session_key, user=request.user
        ).update(last_seen_at=now, user_agent=user_agent)
        if not updated:  # a session from before sessions were recorded
            UserSession.objects.create_from_request(request)
        request.session[ACTIVITY_KEY] = now.isoformat()
