from django.contrib import admin
from django.urls import include, path

from audit import urls as audit_urls
from billing import urls as billing_urls
from organizations.urls import global_urls, org_scoped
from subscriptions import urls as subscriptions_urls
from usage import urls as usage_urls

from . import views

handler403 = "organizations.views.permission_denied"

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    *global_urls,  # before the org-scoped patterns, so that /orgs/new/ is not read as a slug
    path("orgs/<slug:org_slug>/", include(org_scoped)),
    *billing_urls.global_urls,
    path("orgs/<slug:org_slug>/", include(billing_urls.org_scoped)),
    path("orgs/<slug:org_slug>/usage/", include(usage_urls.org_scoped)),
    path("orgs/<slug:org_slug>/subscriptions/", include(subscriptions_urls.org_scoped)),
    path("orgs/<slug:org_slug>/audit/", include(audit_urls.org_scoped)),
    path("api/v1/", include(usage_urls.api_urls)),
]
