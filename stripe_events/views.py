"""POST /stripe/webhook/ (not org-scoped: Stripe signs it)."""

import logging

from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from billing import stripe_gateway

from . import services

logger = logging.getLogger(__name__)


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest) -> HttpResponse:
    """Verify, store, enqueue. 400 (nothing stored) for a bad signature or body; non-2xx when
    storing or handling failed, so that Stripe delivers the event again."""
    try:
        event = stripe_gateway.verify_webhook(
            request.body, request.headers.get("Stripe-Signature", "")
        )
    except stripe_gateway.InvalidWebhook:
        return HttpResponse("Invalid Stripe webhook.", status=400, content_type="text/plain")
    try:
        received = services.event_receive(event)
    except DatabaseError:
        logger.exception("Could not store Stripe event %s", event.get("id"))
        return HttpResponse("Try again.", status=503, content_type="text/plain")
    except Exception:  # the handler ran eagerly (demo) and failed: Stripe must retry
        logger.exception("Stripe event %s could not be handled", event.get("id"))
        return HttpResponse("Handling failed; retry.", status=500, content_type="text/plain")
    return HttpResponse(received.value, status=200, content_type="text/plain")
