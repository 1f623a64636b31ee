from collections.abc import Callable

from django.urls import path

from . import views


def org_scoped(*, model_usage: Callable) -> list:
    """Mounted under /orgs/<org_slug>/providers/; every view goes through org_view.

    `model_usage(organization) -> {"provider/model": (requests, microdollars)}` is the usage
    app's selector, passed in by the project URLConf (providers may not import usage).
    """
    return [
        path("", views.providers_tab, {"model_usage": model_usage}, name="providers_tab"),
        path("policy/", views.providers_policy, name="providers_policy"),
        path("bulk/", views.providers_bulk_confirm, name="providers_bulk_confirm"),
        path("bulk/apply/", views.providers_bulk_apply, name="providers_bulk_apply"),
        path("enable/", views.providers_model_enable, name="providers_model_enable"),
        path("disable/", views.providers_model_disable, name="providers_model_disable"),
    ]
