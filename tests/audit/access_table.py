"""Who may use each Audit logs URL (the personas' organization is on Teams).

Owners and admins get the tab (on Teams: the upgrade panel), members 403, outsiders 404. On
Teams the exports redirect to the upgrade panel and the retention setting is refused, so no
audit event is expected here; tests/audit/test_tab.py covers the same URLs on Enterprise.
"""

ACCESS = {
    "audit_tab": ("get", {"owner": 200, "admin": 200, "member": 403}),
    "audit_export_csv": ("get", {"owner": 302, "admin": 302, "member": 403}),
    "audit_export_jsonl": ("get", {"owner": 302, "admin": 302, "member": 403}),
    "audit_retention": ("post", {"owner": 302, "admin": 403, "member": 403}),
}
DATA = {"audit_retention": lambda w: {"years": "3"}}


def matrix_specs(spec_cls, row_cls) -> dict:  # noqa: ANN001
    return {
        name: spec_cls(**{method: row_cls(**codes)}, data=DATA.get(name, lambda w: {}))
        for name, (method, codes) in ACCESS.items()
    }
