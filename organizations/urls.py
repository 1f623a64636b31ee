from django.urls import path

from . import views

# Mounted under /orgs/<org_slug>/ : every view here goes through organizations.access.org_view.
org_scoped = [
    path("", views.organization_root, name="organization_root"),
    path("organization/", views.organization_tab, name="organization_tab"),
    path("organization/settings/", views.organization_settings, name="organization_settings"),
    path("organization/policies/", views.organization_policies, name="organization_policies"),
    path("organization/invitations/new/", views.invitation_create, name="invitation_create"),
    path(
        "organization/invitations/<uuid:invitation_id>/resend/",
        views.invitation_resend,
        name="invitation_resend",
    ),
    path(
        "organization/invitations/<uuid:invitation_id>/revoke/",
        views.invitation_revoke,
        name="invitation_revoke",
    ),
    path(
        "organization/members/<uuid:member_id>/role/",
        views.member_change_role,
        name="member_change_role",
    ),
    path(
        "organization/members/<uuid:member_id>/remove/",
        views.member_remove,
        name="member_remove",
    ),
    path(
        "organization/members/restore/",
        views.member_restore,
        name="member_restore",
    ),
    path("organization/leave/", views.organization_leave, name="organization_leave"),
    path("organization/transfer/", views.ownership_transfer, name="ownership_transfer"),
]

global_urls = [
    path("", views.home, name="home"),
    path("orgs/", views.organization_chooser, name="organization_chooser"),
    path("orgs/new/", views.organization_create, name="organization_create"),
    path("invitations/<str:token>/", views.invitation_accept, name="invitation_accept"),
]
