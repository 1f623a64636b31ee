"""Proves tests/billing/access_table.py: every org-scoped billing URL, for every persona."""

from types import SimpleNamespace

import pytest
from django.urls import get_resolver, reverse

from billing import urls as billing_urls
from stripe_events import urls as stripe_events_urls
from tests.billing.access_table import ACCESS, CONFIRM_PAGES, DATA, PATH_PARAMS
from tests.conftest import client_for

PERSONAS = ("owner", "admin", "member", "outsider")


def test_the_table_lists_every_billing_url():
    assert {p.name for p in billing_urls.org_scoped} == set(ACCESS)


def _url(name: str, world: SimpleNamespace) -> str:
    route = next(str(p.pattern) for p in billing_urls.org_scoped if p.name == name)
    kwargs = {key: fill(world) for key, fill in PATH_PARAMS.items() if f":{key}>" in route}
    return reverse(name, kwargs={"org_slug": world.org.slug, **kwargs})


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "persona"), [(name, persona) for name in ACCESS for persona in PERSONAS]
)
def test_access_table(name, persona, org, personas):
    world = SimpleNamespace(org=org, **personas)
    row = ACCESS[name]
    client = client_for(personas[persona])
    url = _url(name, world)
    if row["method"] == "GET":
        response = client.get(url)
    else:
        response = client.post(url, DATA.get(name, lambda w: {})(world))
    assert response.status_code == row[persona], f"{row['method']} {url} as {persona}"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "persona"), [(name, persona) for name in CONFIRM_PAGES for persona in PERSONAS]
)
def test_confirmation_pages(name, persona, org, personas):
    world = SimpleNamespace(org=org, **personas)
    response = client_for(personas[persona]).get(_url(name, world))
    assert response.status_code == CONFIRM_PAGES[name][persona], f"GET {name} as {persona}"


@pytest.mark.django_db
def test_anonymous_callers_are_sent_to_log_in(org):
    response = client_for(None).get(reverse("billing_tab", args=[org.slug]))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_webhook_is_the_only_stripe_url_outside_the_access_gate():
    assert not hasattr(billing_urls, "global_urls")
    assert [p.name for p in stripe_events_urls.global_urls] == ["stripe_webhook"]
    assert get_resolver().resolve("/stripe/webhook/").url_name == "stripe_webhook"
