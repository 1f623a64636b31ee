"""tests/subscriptions/access_table.py, proven with a running subscription: every URL, every
persona. A refused call changes nothing; an allowed owner POST records its audit action."""

import pytest
from django.urls import reverse

from audit.models import AuditEvent
from subscriptions.models import Subscription
from tests.conftest import client_for
from tests.subscriptions.access_table import ACCESS, PATH_PARAMS, RECORDS, data_for
from tests.subscriptions.conftest import subscribe

pytestmark = pytest.mark.django_db(transaction=True)

PERSONAS = ("owner", "admin", "member", "outsider")


@pytest.fixture
def world(org, personas):
    from types import SimpleNamespace

    subscribe(org, personas["owner"], seats=10)
    return SimpleNamespace(org=org, **personas)


def test_every_subscriptions_url_is_in_the_table():
    from tests.test_access_matrix import org_scoped_urls

    names = {u.name for u in org_scoped_urls() if (u.name or "").startswith("subscriptions_")}
    assert names == set(ACCESS)


@pytest.mark.parametrize("name", sorted(ACCESS))
def test_each_persona_gets_the_expected_status(name, world):
    row = ACCESS[name]
    kwargs = {"pending_id": PATH_PARAMS["pending_id"](world)} if "authenticate" in name else {}
    url = reverse(name, kwargs={"org_slug": world.org.slug, **kwargs})
    data = data_for(name, world)
    for persona in PERSONAS:
        before = AuditEvent.objects.count()
        client = client_for(getattr(world, persona))
        response = client.get(url, data) if row["method"] == "GET" else client.post(url, data)
        assert response.status_code == row[persona], (name, persona, response.status_code)
        new = list(AuditEvent.objects.order_by("id")[before:].values_list("action", flat=True))
        if row[persona] in (403, 404) or row["method"] == "GET":
            assert new == [], (name, persona, new)
        elif persona == "owner" and name in RECORDS:
            assert new == [RECORDS[name]], (name, new)
    assert Subscription.objects.filter(organization=world.org).exists()
