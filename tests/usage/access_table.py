"""Who may use each Usage URL. tests/usage/test_access.py proves this table; the URLConf walk in
tests/test_access_matrix.py imports it (matrix_specs) so it knows the usage URLs too.

Codes: 200 page, 302 after a POST (post/redirect/get), 403 wrong role, 404 outsider. Creating a
key answers 200 on purpose: the page shows the new secret, once, and must not be re-fetchable.
"""

from types import SimpleNamespace

from tests.conftest import actor
from usage.services import ingest_key_create

ALL = {"owner": 200, "admin": 200, "member": 200, "outsider": 404}
MANAGERS = {"owner": 200, "admin": 200, "member": 403, "outsider": 404}

# GET: url_name -> persona -> status
ACCESS: dict[str, dict[str, int]] = {
    "usage_tab": ALL,
    "usage_export": ALL,
    "usage_ingest_keys": MANAGERS,
}

# POST-only URLs
POST_ACCESS: dict[str, dict[str, int]] = {
    "usage_ingest_key_create": {"owner": 200, "admin": 200, "member": 403, "outsider": 404},
    "usage_ingest_key_revoke": {"owner": 302, "admin": 302, "member": 403, "outsider": 404},
}

DATA = {"usage_ingest_key_create": lambda w: {"name": "CI gateway"}}
RECORDS = {
    "usage_ingest_key_create": "usage.ingest_key.create",
    "usage_ingest_key_revoke": "usage.ingest_key.revoke",
    "usage_export": "export.usage_csv",
}


def _key_id(world: SimpleNamespace) -> object:
    key, _ = ingest_key_create(actor=actor(world.owner), organization=world.org, name="Old key")
    return key.public_id


PATH_PARAMS = {"key_id": _key_id}


def matrix_specs(spec_cls, row_cls) -> dict:  # noqa: ANN001
    """The rows in tests/test_access_matrix.py's own format."""
    specs = {}
    for table, key in ((ACCESS, "get"), (POST_ACCESS, "post")):
        for name, codes in table.items():
            row = row_cls(owner=codes["owner"], admin=codes["admin"], member=codes["member"])
            specs[name] = spec_cls(
                **{key: row}, data=DATA.get(name, lambda w: {}), records=RECORDS.get(name)
            )
    return specs
