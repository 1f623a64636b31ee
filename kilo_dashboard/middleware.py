"""Response headers that every page needs and no view should have to remember."""

from collections.abc import Callable

from csp.middleware import CSPMiddleware, PolicyParts
from django.http import HttpRequest, HttpResponse


class PrivateNoStoreMiddleware:
    """`Cache-Control: private, no-store` on every response to a signed-in user and on every
    download, so neither a shared proxy nor the browser's disk cache keeps a copy of another
    organization's figures, invoices or CSV exports (the back button after sign-out included).

    Pages served to anonymous visitors keep whatever their views set; static files never pass
    through here (WhiteNoise answers them earlier).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        signed_in = user is not None and user.is_authenticated
        download = response.get("Content-Disposition", "").startswith("attachment")
        if signed_in or download:
            response["Cache-Control"] = "private, no-store"
            response.headers.pop("Expires", None)
        return response


def stripe_origins() -> list[str]:
    """Where Stripe.js (or localstripe's fake of it) loads from, frames and calls, read from the
    settings at request time (the test session points them at a localstripe on a random port)."""
    from django.conf import settings

    urls = (settings.STRIPE_JS_URL, settings.STRIPE_API_BASE)
    origins = {"/".join(url.split("/")[:3]) for url in urls if url.startswith(("http:", "https:"))}
    if settings.STRIPE_API_DIALECT == "stripe":
        origins.add("https://hooks.stripe.com")  # 3-D Secure challenge frames
    return sorted(origins)


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp's middleware with the Stripe origins added to the settings' policy."""

    def get_policy_parts(
        self, request: HttpRequest, response: HttpResponse, report_only: bool = False
    ) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        origins = stripe_origins()
        update = dict(parts.update or {})
        for directive in ("script-src", "frame-src", "connect-src", "img-src"):
            update[directive] = [*origins, *update.get(directive, [])]
        parts.update = update
        return parts
