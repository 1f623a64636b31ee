import pytest
from django.test import override_settings


@pytest.mark.django_db
def test_healthz_reports_database_and_broker_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok"}


@pytest.mark.django_db
@override_settings(CELERY_BROKER_URL="redis://127.0.0.1:1/0")
def test_healthz_is_503_when_the_broker_is_down(client):
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["broker"] == "down"
    assert response.json()["database"] == "ok"


@pytest.mark.django_db
def test_healthz_is_503_when_the_database_is_down(client, monkeypatch):
    from django.db import connection

    def refuse(*args, **kwargs):
        raise connection.Database.OperationalError("connection refused")

    monkeypatch.setattr(connection, "cursor", refuse)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"] == "down"


def test_cache_uses_this_workers_own_redis_database():
    from django.conf import settings

    assert settings.CACHES["default"]["LOCATION"].rsplit("/", 1)[1] != "0"


@pytest.mark.django_db
def test_the_footer_status_link_opens_a_page_for_people(client):
    home = client.get("/accounts/login/").content.decode()
    assert 'href="/status/">status</a>' in home
    response = client.get("/status/")
    html = response.content.decode()
    assert response.status_code == 200 and response["Content-Type"].startswith("text/html")
    assert "All systems running" in html and "Background jobs" in html
    assert 'href="/healthz"' in html  # the JSON stays, for machines


@pytest.mark.django_db
@override_settings(CELERY_BROKER_URL="redis://127.0.0.1:1/0")
def test_the_status_page_says_what_is_down(client):
    response = client.get("/status/")
    assert response.status_code == 503
    html = response.content.decode()
    assert "Something is not working" in html
    assert "Unreachable: usage figures, emails and documents are delayed" in html
