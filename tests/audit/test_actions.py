"""The action catalogue: every action recorded anywhere is registered; nothing else is accepted."""

import ast
from pathlib import Path

import pytest
from django.db import transaction

from audit.actions import CATALOGUE, Category, UnknownAuditAction, actions_in, label_of, register
from audit.models import AuditEvent
from audit.services import audit_record
from subscriptions.models import ChangeKind
from tests.conftest import actor

ROOT = Path(__file__).resolve().parents[2]
APPS = (
    "accounts",
    "audit",
    "organizations",
    "usage",
    "billing",
    "subscriptions",
    "sso",
    "providers",
    "stripe_events",
)


def _recorded_literals() -> dict[str, str]:
    """Every `action="..."` literal passed to audit_record/export_record in the apps' code."""
    found = {}
    for app in APPS:
        for path in (ROOT / app).rglob("*.py") if (ROOT / app).exists() else ():
            if "migrations" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if not isinstance(node, ast.Call):
                    continue
                name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
                if name not in {"audit_record", "export_record", "sign_in_record"}:
                    continue
                for keyword in node.keywords:
                    if keyword.arg == "action" and isinstance(keyword.value, ast.Constant):
                        found[keyword.value.value] = f"{path.relative_to(ROOT)}:{node.lineno}"
    return found


def test_every_action_literal_in_the_code_is_in_the_catalogue():
    literals = _recorded_literals()
    assert len(literals) > 30  # the scan really found the call sites
    unknown = {value: where for value, where in literals.items() if value not in CATALOGUE}
    assert not unknown, f"Register these in audit/actions.py: {unknown}"


def test_every_subscription_change_kind_is_registered():
    # subscriptions.services.record_change records f"subscription.{kind}".
    missing = [k.value for k in ChangeKind if f"subscription.{k.value}" not in CATALOGUE]
    assert not missing


def test_every_action_has_a_label_and_a_known_category():
    for action in CATALOGUE.values():
        assert action.label and action.label != action.value
        assert isinstance(action.category, Category)


def test_every_category_of_the_issue_has_a_label():
    assert Category("sso").label == "SSO"
    assert Category("billing").label == "Billing and payments"
    assert set(actions_in(Category.AUTHENTICATION)) == {
        "auth.signed_in",
        "auth.sign_in_failed",
        "auth.signed_out",
    }


def test_an_action_dropped_from_the_catalogue_still_displays_as_stored():
    assert label_of("member.removed") == "Member removed"
    assert label_of("legacy.thing") == "legacy.thing"


def test_registering_twice_is_refused():
    with pytest.raises(ValueError, match="registered twice"):
        register("member.removed", "Again", Category.MEMBERS)


@pytest.mark.django_db
def test_an_unknown_action_cannot_be_recorded(org, owner):
    with pytest.raises(UnknownAuditAction, match="audit/actions.py"), transaction.atomic():
        audit_record(actor=actor(owner), action="member.teleported", organization=org)
    assert not AuditEvent.objects.filter(action="member.teleported").exists()
