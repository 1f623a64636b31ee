from django.contrib import admin
from django.urls import include, path

from audit import urls as audit_urls
from billing import urls as billing_urls
from organizations.urls import global_urls, org_scoped
from providers import urls as providers_urls
from sso import urls as sso_urls
from stripe_events import urls as stripe_events_urls
from subscriptions import urls as subscriptions_urls
from usage import urls as usage_urls
from usage.selectors import model_usage_last_30_days

from . import account_views, views

handler403 = "organizations.views.permission_denied"

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),  # JSON, for load balancers and monitors
    path("status/", views.status_page, name="status_page"),  # the same checks, for people
    path("account/", account_views.account_profile, name="account_profile"),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    *global_urls,  # before the org-scoped patterns, so that /orgs/new/ is not read as a slug
    path("orgs/<slug:org_slug>/", include(org_scoped)),
    *stripe_events_urls.global_urls,
    *sso_urls.global_urls,
    path("orgs/<slug:org_slug>/", include(billing_urls.org_scoped)),
    path("orgs/<slug:org_slug>/usage/", include(usage_urls.org_scoped)),
    path("orgs/<slug:org_slug>/subscriptions/", include(subscriptions_urls.org_scoped)),
    path("orgs/<slug:org_slug>/sso/", include(sso_urls.org_scoped)),
    path(
        "orgs/<slug:org_slug>/providers/",
        # The usage selector is handed to the providers app here, where all apps meet.
        include(providers_urls.org_scoped(model_usage=model_usage_last_30_days)),
    ),
    path("orgs/<slug:org_slug>/audit/", include(audit_urls.org_scoped)),
    path("api/v1/", include(usage_urls.api_urls)),
]
