"""The JSON API (django-ninja): POST /api/v1/usage/events, authenticated by an ingest key.

The handler reads the raw body itself (a JSON array *or* NDJSON, validated event by event), so
the request body is described to OpenAPI by hand from `UsageEventIn`, the documented shape.
"""

from datetime import datetime
from typing import Literal

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest
from ninja import Field, NinjaAPI, Schema, Status
from ninja.errors import HttpError
from ninja.security import HttpBearer

from providers.api import router as gateway_router

from . import ratelimit, selectors
from .ingest import MalformedBody, TooManyEvents, ingest_events, parse_body
from .models import KeyScope
from .services import ingest_key_mark_used

api = NinjaAPI(
    title="Kilo Teams API",
    version="1",
    description=(
        "Send your team's AI usage to the Kilo Teams dashboard, and ask which models a member "
        "may use. Every call authenticates with an organization API key, scoped at creation to "
        "usage ingest, the gateway (models and authorize), or both."
    ),
    urls_namespace="api",
    docs_url=None,  # our own docs page (usage.views.api_docs), free of any CDN
)


class IngestKeyAuth(HttpBearer):
    """An organization API key that may call this API's `scope` ("ingest" or "gateway").

    Unknown or revoked: 401. Known but scoped to the other API: 403 with a sentence saying
    so (telling its owner which key to make is worth more than hiding that the key exists)."""

    API_NAMES = {KeyScope.INGEST: "usage ingest", KeyScope.GATEWAY: "gateway"}

    def __init__(self, scope: str) -> None:
        super().__init__()
        self.scope = scope

    def authenticate(self, request: HttpRequest, token: str):  # noqa: ANN201
        key = selectors.ingest_key_for_secret(token)
        if key is not None and not key.allows(self.scope):
            raise HttpError(
                403,
                f"This key may not call the {self.API_NAMES[self.scope]} API: it was created "
                f"for “{key.get_scope_display()}”. An owner or admin can create a key for "
                f"{self.API_NAMES[self.scope]} (or both) on the Organization tab.",
            )
        if key is not None and self.scope == KeyScope.GATEWAY:
            # The ingest endpoint marks its key after a stored batch; the gateway's answers
            # are reads, so a known key is "used" once it authenticates (one UPDATE a minute).
            ingest_key_mark_used(key)
        return key


class UsageEventIn(Schema):
    """One AI request. Unknown fields are ignored."""

    request_id: str = Field(
        ...,
        max_length=128,
        description=(
            "Unique within the organization and the UTC day of occurred_at: resending an event "
            "(same request_id and occurred_at) is a no-op."
        ),
    )
    occurred_at: datetime = Field(
        ..., description="ISO 8601 with an offset, e.g. 2026-11-25T09:30:00Z."
    )
    user_email: str = Field(..., description="Must belong to a member of the key's organization.")
    model: str = Field(..., max_length=128, examples=["claude-sonnet-4-5"])
    provider: str = Field(..., max_length=64, examples=["anthropic"])
    feature: str | None = Field(None, max_length=64)
    project: str | None = Field(None, max_length=128)
    input_tokens: int = Field(..., ge=0)
    output_tokens: int = Field(..., ge=0)
    cache_read_tokens: int = Field(0, ge=0)
    cache_write_tokens: int = Field(0, ge=0)
    cost_microdollars: int | None = Field(
        None, ge=0, description="1 USD = 1,000,000. When absent: computed from the model catalog."
    )
    latency_ms: int = Field(..., ge=0, le=3_600_000)
    status: Literal["success", "error"]
    error_code: str | None = Field(None, max_length=64, description='Only with status "error".')


class RejectedEventOut(Schema):
    index: int = Field(..., description="Position of the event in the batch, from 0.")
    field: str = Field(
        ..., description="The offending field (empty when the event itself is wrong)."
    )
    reason: str


class IngestResultOut(Schema):
    accepted: int
    duplicate: int = Field(
        ...,
        description="Events already stored (same request_id on the same UTC day), or repeated in the batch.",
    )
    rejected: int
    errors: list[RejectedEventOut]


class ErrorOut(Schema):
    detail: str


REQUEST_BODY = {
    "required": True,
    "description": (
        f"A JSON array of at most {settings.USAGE_INGEST_MAX_EVENTS:,} events, or NDJSON "
        "(one event object per line)."
    ),
    "content": {
        "application/json": {
            "schema": {
                "type": "array",
                "maxItems": settings.USAGE_INGEST_MAX_EVENTS,
                "items": UsageEventIn.model_json_schema(),
            }
        },
        "application/x-ndjson": {"schema": {"type": "string"}},
    },
}


@api.post(
    "/usage/events",
    auth=IngestKeyAuth(KeyScope.INGEST),
    response={
        200: IngestResultOut,
        400: ErrorOut,
        401: ErrorOut,
        403: ErrorOut,
        413: ErrorOut,
        429: ErrorOut,
    },
    summary="Send usage events",
    description=(
        "Valid events are stored even when others in the batch are rejected; each rejection "
        "names its index and reason. 400: malformed JSON; 401: missing, unknown or revoked key; "
        "403: the key is scoped to the gateway API only; "
        "413: body or batch too large; 429: the key's rate limit (see Retry-After)."
    ),
    openapi_extra={"requestBody": REQUEST_BODY},
    tags=["usage"],
)
def post_usage_events(request: HttpRequest):  # noqa: ANN201
    key = request.auth
    limit = settings.USAGE_INGEST_MAX_BYTES
    if int(request.META.get("CONTENT_LENGTH") or 0) > limit:
        return Status(413, {"detail": f"The body is larger than {limit:,} bytes."})
    retry_after = ratelimit.hit(key.pk)
    if retry_after:
        response = api.create_response(
            request, {"detail": "Rate limit reached for this key; retry later."}, status=429
        )
        response["Retry-After"] = str(retry_after)
        return response
    try:
        body = request.body
    except RequestDataTooBig:
        return Status(413, {"detail": f"The body is larger than {limit:,} bytes."})
    if len(body) > limit:
        return Status(413, {"detail": f"The body is larger than {limit:,} bytes."})
    try:
        events = parse_body(body)
        result = ingest_events(organization_id=key.organization_id, events=events)
    except (MalformedBody, UnicodeDecodeError) as error:
        return Status(400, {"detail": str(error)})
    except TooManyEvents as error:
        return Status(413, {"detail": str(error)})
    ingest_key_mark_used(key)
    return Status(200, result.as_dict())


# GET /models and POST /authorize (the providers app) take the same organization keys, those
# scoped to the gateway (or both).
api.add_router("", gateway_router, auth=IngestKeyAuth(KeyScope.GATEWAY))
