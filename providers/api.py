"""GET /api/v1/models and POST /api/v1/authorize: what a gateway asks before each request.

The router is mounted on the project's one NinjaAPI (usage.api) with that API's organization
key authentication: keys scoped to "gateway" or "both" (a key scoped to usage ingest only gets
a 403). `request.auth.organization_id` is all these handlers need from it, so this module does
not import usage. Answers come from the organization's cached gate
snapshot (providers.selectors), replaced on every policy, membership, seat, plan or balance
change.
"""

from django.http import HttpRequest, HttpResponse
from ninja import Field, Router, Schema, Status

from .gateway import AuthorizeDecision, authorize, models_json

router = Router(tags=["gateway"])

EXAMPLE_AUTHORIZE = (
    'curl -X POST {base}/api/v1/authorize -H "Authorization: Bearer $KILO_API_KEY" \\\n'
    '  -H "Content-Type: application/json" \\\n'
    '  -d \'{"user_email": "dev@example.com", "model": "anthropic/claude-sonnet-4-5"}\'\n'
    '# => {"allowed": true, "reason": "allowed", "detail": "", ...}'
)
EXAMPLE_MODELS = (
    'curl {base}/api/v1/models -H "Authorization: Bearer $KILO_API_KEY"\n'
    '# => {"object": "list", "data": [{"id": "anthropic/claude-sonnet-4-5", '
    '"object": "model", "owned_by": "anthropic", ...}]}'
)


class AuthorizeIn(Schema):
    user_email: str = Field(..., max_length=254, description="The member making the request.")
    model: str = Field(
        ...,
        max_length=200,
        pattern=r"^[^/\s]+/\S+$",
        description='"provider/model", as listed by GET /api/v1/models.',
        examples=["anthropic/claude-sonnet-4-5"],
    )


class AuthorizeOut(Schema):
    allowed: bool
    reason: str = Field(
        ...,
        description=(
            "allowed | not_a_member | no_seat | model_not_allowed | provider_not_allowed | "
            "provider_trains_on_prompts | credits_exhausted"
        ),
    )
    policy_reason: str = Field(
        "",
        description=(
            "The finer reason behind model_not_allowed or provider_trains_on_prompts: "
            "not_in_catalog, not_in_allow_list, new_model_not_allowed, "
            "provider_policy_unknown, ..."
        ),
    )
    detail: str = Field(..., description="A sentence for a person.")
    user_email: str
    model: str


class PricingOut(Schema):
    input: str | None = Field(None, description="USD per 1M input tokens, exact decimal.")
    output: str | None = None
    cache_read: str | None = None
    cache_write: str | None = None


class DataPolicyOut(Schema):
    trains_on_prompts: str = Field(..., description="yes | no | unknown")
    retains_prompts: str
    can_publish: str
    retention_days: int | None
    headquarters: str


class ModelOut(Schema):
    id: str = Field(..., examples=["anthropic/claude-sonnet-4-5"])
    object: str = "model"
    created: int = Field(..., description="Release date (or first listing) as a Unix time.")
    owned_by: str
    name: str
    context_length: int | None
    max_output_tokens: int | None
    input_modalities: list[str]
    output_modalities: list[str]
    open_weights: bool
    reasoning: bool
    tool_call: bool
    default: bool = Field(..., description="The organization's default model.")
    pricing: PricingOut
    data_policy: DataPolicyOut


class ModelListOut(Schema):
    object: str = "list"
    data: list[ModelOut]


class ErrorOut(Schema):
    detail: str


@router.get(
    "/models",
    response={200: ModelListOut, 401: ErrorOut, 403: ErrorOut},
    summary="List the models this organization may use",
    description=(
        "The organization's effective model list (its model policy and code-training opt-out "
        "applied) in the OpenAI-compatible list shape, with prices and data-policy facts as "
        "extra fields. 401: missing, unknown or revoked key; 403: the key is scoped to usage "
        "ingest only."
    ),
    openapi_extra={"x-example": EXAMPLE_MODELS},
)
def list_models(request: HttpRequest):  # noqa: ANN201
    # Served from a cached, already-serialized body: the list is the same for every caller of
    # the organization until its gate version or the catalog changes.
    return HttpResponse(models_json(request.auth.organization_id), content_type="application/json")


@router.post(
    "/authorize",
    response={200: AuthorizeOut, 401: ErrorOut, 402: AuthorizeOut, 403: ErrorOut, 422: ErrorOut},
    summary="May this member use this model now?",
    description=(
        "Answers allow or deny with a machine-readable reason; call it before each request. "
        "200 with allowed=false: not a member, no seat, model or provider not allowed, or the "
        "provider trains on prompts while the organization opted out. 402: the organization's "
        "credits are exhausted. 401: missing, unknown or revoked key. 403: the key is scoped to "
        "usage ingest only. 422: malformed body."
    ),
    openapi_extra={"x-example": EXAMPLE_AUTHORIZE},
)
def post_authorize(request: HttpRequest, body: AuthorizeIn):  # noqa: ANN201
    decision: AuthorizeDecision = authorize(
        request.auth.organization_id, body.user_email, body.model
    )
    return Status(decision.status, decision.as_dict())
