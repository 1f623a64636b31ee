"""Every org-scoped Usage URL: outsiders 404, wrong roles 403, allowed roles their code."""

from types import SimpleNamespace

import pytest
from django.urls import reverse

from audit.models import AuditEvent
from tests.conftest import client_for

from .access_table import ACCESS, DATA, PATH_PARAMS, POST_ACCESS, RECORDS

pytestmark = pytest.mark.django_db
PERSONAS = ("owner", "admin", "member", "outsider")


@pytest.fixture
def world(org, personas) -> SimpleNamespace:
    return SimpleNamespace(org=org, **personas)


def _url(name: str, world: SimpleNamespace) -> str:
    kwargs = {"org_slug": world.org.slug}
    if name == "usage_ingest_key_revoke":
        kwargs["key_id"] = PATH_PARAMS["key_id"](world)
    return reverse(name, kwargs=kwargs)


@pytest.mark.parametrize(
    ("name", "persona"), [(n, p) for n in ACCESS for p in PERSONAS], ids=lambda v: str(v)
)
def test_get(name, persona, world):
    response = client_for(getattr(world, persona)).get(_url(name, world))
    assert response.status_code == ACCESS[name][persona]


@pytest.mark.parametrize(
    ("name", "persona"), [(n, p) for n in POST_ACCESS for p in PERSONAS], ids=lambda v: str(v)
)
def test_post(name, persona, world):
    url = _url(name, world)
    before = AuditEvent.objects.count()
    data = DATA.get(name, lambda w: {})(world)
    response = client_for(getattr(world, persona)).post(url, data)
    expected = POST_ACCESS[name][persona]
    assert response.status_code == expected
    actions = list(AuditEvent.objects.order_by("id")[before:].values_list("action", flat=True))
    assert actions == ([RECORDS[name]] if expected in (200, 302) else [])


@pytest.mark.parametrize("name", list(POST_ACCESS))
def test_post_only_urls_refuse_get(name, world):
    assert client_for(world.owner).get(_url(name, world)).status_code == 405


@pytest.mark.parametrize("name", list(ACCESS) + list(POST_ACCESS))
def test_anonymous_is_sent_to_log_in(name, world):
    client = client_for(None)
    url = _url(name, world)
    response = client.get(url) if name in ACCESS else client.post(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_a_key_of_another_organization_cannot_be_revoked(world, other_org):
    from tests.conftest import actor
    from usage.models import IngestKey
    from usage.services import ingest_key_create

    foreign, _ = ingest_key_create(actor=actor(world.outsider), organization=other_org, name="X")
    url = reverse("usage_ingest_key_revoke", args=[world.org.slug, foreign.public_id])
    assert client_for(world.owner).post(url).status_code == 404
    assert IngestKey.objects.get(pk=foreign.pk).revoked_at is None
