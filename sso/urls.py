from django.urls import path

from . import views

org_scoped = [
    path("", views.sso_tab, name="sso_tab"),
    path("connections/new/", views.sso_connection_edit, name="sso_connection_create"),
    path(
        "connections/<uuid:connection_id>/", views.sso_connection_edit, name="sso_connection_edit"
    ),
    path(
        "connections/new/saml/", views.sso_saml_connection_edit, name="sso_saml_connection_create"
    ),
    path(
        "connections/<uuid:connection_id>/saml/",
        views.sso_saml_connection_edit,
        name="sso_saml_connection_edit",
    ),
    path(
        "connections/<uuid:connection_id>/saml/sp-certificate/",
        views.sso_saml_sp_certificate_replace,
        name="sso_saml_sp_certificate_replace",
    ),
    path(
        "connections/<uuid:connection_id>/delete/",
        views.sso_connection_delete,
        name="sso_connection_delete",
    ),
    path(
        "connections/<uuid:connection_id>/test/",
        views.sso_connection_test,
        name="sso_connection_test",
    ),
    path(
        "connections/<uuid:connection_id>/test/result/",
        views.sso_connection_test_result,
        name="sso_connection_test_result",
    ),
    path("domains/", views.sso_domain_claim, name="sso_domain_claim"),
    path("domains/<uuid:domain_id>/check/", views.sso_domain_check, name="sso_domain_check"),
    path("domains/<uuid:domain_id>/remove/", views.sso_domain_remove, name="sso_domain_remove"),
    path("enforcement/", views.sso_enforcement, name="sso_enforcement"),
]

global_urls = [
    path("sso/", views.sso_start, name="sso_start"),
    path("sso/waiting/", views.sso_waiting, name="sso_waiting"),
    path("sso/<slug:slug>/", views.sso_org_login, name="sso_org_login"),
]
