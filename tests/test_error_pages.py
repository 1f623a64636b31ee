"""Error pages in our layout: 404 and 403 with the request, 500 and the CSRF refusal without it."""

import pytest
from django.test import Client, RequestFactory
from django.views.defaults import server_error
from pytest_django.asserts import assertContains, assertNotContains

from tests.conftest import client_for


def test_the_500_page_renders_without_the_request_context():
    # Django renders 500.html with an empty context: no request, no user, no context processors
    # (the database may be what failed). It must still be our page.
    response = server_error(RequestFactory().get("/orgs/acme/usage/"))

    assert response.status_code == 500
    html = response.content.decode()
    assert "Something went wrong on our side" in html
    assert 'class="topbar"' in html and "css/app.css" in html


@pytest.mark.django_db
def test_an_expired_form_is_explained_in_our_layout():
    response = Client(enforce_csrf_checks=True).post("/accounts/login/", {"login": "x"})

    assertContains(response, "This form has expired", status_code=403)
    assertContains(response, 'class="topbar"', status_code=403)
    assertContains(response, "CSRF", status_code=403)


def test_an_outsider_gets_our_404_page(org, outsider):
    response = client_for(outsider).get(f"/orgs/{org.slug}/usage/")

    assertContains(response, "Page not found", status_code=404)
    assertContains(response, 'class="topbar"', status_code=404)
    assertNotContains(response, "URLconf", status_code=404)
