from django.urls import path

from . import views
from .api import api

# Mounted under /orgs/<org_slug>/usage/ : every view goes through organizations.access.org_view.
org_scoped = [
    path("", views.usage_tab, name="usage_tab"),
    path("export.csv", views.usage_export, name="usage_export"),
    path("keys/", views.ingest_keys, name="usage_ingest_keys"),
    path("keys/new/", views.ingest_key_create, name="usage_ingest_key_create"),
    path("keys/<uuid:key_id>/revoke/", views.ingest_key_revoke, name="usage_ingest_key_revoke"),
]

api_urls = [
    path("docs", views.api_docs, name="api_docs"),
    path("", api.urls),
]
