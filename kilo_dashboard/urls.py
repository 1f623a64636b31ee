from django.contrib import admin
from django.urls import include, path

from organizations.urls import global_urls, org_scoped

from . import views

handler403 = "organizations.views.permission_denied"

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    *global_urls,  # before the org-scoped patterns, so that /orgs/new/ is not read as a slug
    path("orgs/<slug:org_slug>/", include(org_scoped)),
]
