from django.urls import path

from . import views

# Mounted under /orgs/<org_slug>/subscriptions/: every view goes through organizations.access.
org_scoped = [
    path("", views.subscriptions_tab, name="subscriptions_tab"),
    path("start/", views.subscriptions_start, name="subscriptions_start"),
    path("seats/preview/", views.subscriptions_seats_preview, name="subscriptions_seats_preview"),
    path("seats/add/", views.subscriptions_seats_add, name="subscriptions_seats_add"),
    path(
        "payments/<uuid:pending_id>/authenticate/",
        views.subscriptions_authenticate,
        name="subscriptions_authenticate",
    ),
    path(
        "payments/<uuid:pending_id>/complete/",
        views.subscriptions_authenticate_complete,
        name="subscriptions_authenticate_complete",
    ),
    path("seats/remove/", views.subscriptions_seats_remove, name="subscriptions_seats_remove"),
    path(
        "interval/preview/",
        views.subscriptions_interval_preview,
        name="subscriptions_interval_preview",
    ),
    path("interval/", views.subscriptions_interval, name="subscriptions_interval"),
    path("plan/preview/", views.subscriptions_plan_preview, name="subscriptions_plan_preview"),
    path("plan/", views.subscriptions_plan_change, name="subscriptions_plan_change"),
    path("cancel/", views.subscriptions_cancel_confirm, name="subscriptions_cancel_confirm"),
    path("cancel/confirm/", views.subscriptions_cancel, name="subscriptions_cancel"),
    path("cancel/undo/", views.subscriptions_cancel_undo, name="subscriptions_cancel_undo"),
]
