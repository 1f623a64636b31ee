"""Who may use each Providers URL, on Teams (the access matrix's world) and on Enterprise
(tests/providers/test_access.py). Codes: 200 page, 302 after a POST, 403 wrong role or a
Teams organization (the tab is read-only there), 404 outsider.
"""

from django.http import QueryDict

from providers.filters import parse_filters
from providers.listing import catalog_listing

SONNET = "anthropic/claude-sonnet-4-5"
OPUS = "anthropic/claude-opus-4-1"
BULK_QUERY = "q=anthropic claude-sonnet"

ALL = {"owner": 200, "admin": 200, "member": 200, "outsider": 404}
READ_ONLY = {"owner": 403, "admin": 403, "member": 403, "outsider": 404}

# On Teams: the tab for everyone, every edit refused.
TEAMS_GET = {"providers_tab": ALL, "providers_bulk_confirm": READ_ONLY}
TEAMS_POST = {
    "providers_policy": READ_ONLY,
    "providers_bulk_apply": READ_ONLY,
    "providers_model_enable": READ_ONLY,
    "providers_model_disable": READ_ONLY,
}

# On Enterprise: owners and admins edit, members read.
EDITORS_GET = {"owner": 200, "admin": 200, "member": 403, "outsider": 404}
EDITORS_POST = {"owner": 302, "admin": 302, "member": 403, "outsider": 404}
ENTERPRISE_GET = {"providers_tab": ALL, "providers_bulk_confirm": EDITORS_GET}
ENTERPRISE_POST = dict.fromkeys(TEAMS_POST, EDITORS_POST)


def _bulk_count() -> int:
    return len(catalog_listing(parse_filters(QueryDict(BULK_QUERY)), {}, {}, 1).keys)


DATA = {
    "providers_policy": lambda w: {
        "allow": "*",
        "deny": f"deepseek/*\n{OPUS}",
        "allow_new_models": "on",
        "default_model": "",
    },
    "providers_bulk_apply": lambda w: {
        "action": "disable",
        "q": "anthropic claude-sonnet",
        "expected": str(_bulk_count()),
    },
    # OPUS is denied by the world's policy (test_access.py), SONNET allowed.
    "providers_model_enable": lambda w: {"model": OPUS},
    "providers_model_disable": lambda w: {"model": SONNET},
}
GET_QUERY = {"providers_bulk_confirm": f"?action=disable&{BULK_QUERY}"}
RECORDS = {
    "providers_policy": "providers.policy_updated",
    "providers_bulk_apply": "providers.models_disabled",
    "providers_model_enable": "providers.models_enabled",
    "providers_model_disable": "providers.models_disabled",
}
PATH_PARAMS: dict = {}


def matrix_specs(spec_cls, row_cls) -> dict:  # noqa: ANN001
    """The Teams rows in tests/test_access_matrix.py's format (its world is a Teams org)."""
    specs = {}
    for table, key in ((TEAMS_GET, "get"), (TEAMS_POST, "post")):
        for name, codes in table.items():
            row = row_cls(owner=codes["owner"], admin=codes["admin"], member=codes["member"])
            specs[name] = spec_cls(
                **{key: row}, data=DATA.get(name, lambda w: {}), records=RECORDS.get(name)
            )
    return specs
