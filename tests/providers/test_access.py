"""Every Providers URL on an Enterprise organization: outsiders 404, members 403 on edits,
owners and admins allowed; each allowed edit writes its audit row. (The Teams rows, all edits
403, run in tests/test_access_matrix.py.)"""

from types import SimpleNamespace

import pytest
from django.urls import reverse

from audit.models import AuditEvent
from providers.models import ModelPolicy
from tests.conftest import client_for

from .access_table import DATA, ENTERPRISE_GET, ENTERPRISE_POST, GET_QUERY, OPUS, RECORDS

pytestmark = pytest.mark.django_db
PERSONAS = ("owner", "admin", "member", "outsider")


@pytest.fixture
def world(enterprise, personas) -> SimpleNamespace:
    ModelPolicy.objects.create(
        organization=enterprise,
        allow=[{"rule": "*", "added_at": None}],
        deny=[{"rule": OPUS, "added_at": None}],
    )
    return SimpleNamespace(org=enterprise, **personas)


def _url(name: str, world: SimpleNamespace) -> str:
    return reverse(name, kwargs={"org_slug": world.org.slug})


@pytest.mark.parametrize(("name", "persona"), [(n, p) for n in ENTERPRISE_GET for p in PERSONAS])
def test_get(name, persona, world):
    before = AuditEvent.objects.count()
    url = _url(name, world) + GET_QUERY.get(name, "")
    response = client_for(getattr(world, persona)).get(url)
    assert response.status_code == ENTERPRISE_GET[name][persona]
    assert AuditEvent.objects.count() == before


@pytest.mark.parametrize(("name", "persona"), [(n, p) for n in ENTERPRISE_POST for p in PERSONAS])
def test_post(name, persona, world):
    before = AuditEvent.objects.count()
    response = client_for(getattr(world, persona)).post(_url(name, world), DATA[name](world))
    expected = ENTERPRISE_POST[name][persona]
    assert response.status_code == expected
    actions = list(AuditEvent.objects.order_by("id")[before:].values_list("action", flat=True))
    assert actions == ([RECORDS[name]] if expected == 302 else [])
    if expected == 302:
        assert AuditEvent.objects.order_by("id").last().actor == getattr(world, persona)


@pytest.mark.parametrize("name", list(ENTERPRISE_POST))
def test_post_only_urls_refuse_get(name, world):
    assert client_for(world.owner).get(_url(name, world)).status_code == 405
