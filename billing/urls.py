from django.urls import path

from . import views

# Mounted under /orgs/<org_slug>/ : every view here goes through organizations.access.org_view.
org_scoped = [
    path("billing/", views.billing_tab, name="billing_tab"),
    path("billing/history.csv", views.billing_history_csv, name="billing_history_csv"),
    path("billing/cards/new/", views.billing_card_new, name="billing_card_new"),
    path("billing/cards/confirm/", views.billing_card_confirm, name="billing_card_confirm"),
    path(
        "billing/cards/<uuid:card_id>/default/",
        views.billing_card_default,
        name="billing_card_default",
    ),
    path(
        "billing/cards/<uuid:card_id>/remove/",
        views.billing_card_remove,
        name="billing_card_remove",
    ),
    path("billing/credits/buy/", views.billing_buy_credits, name="billing_buy_credits"),
    path(
        "billing/payments/<uuid:payment_id>/row/",
        views.billing_payment_row,
        name="billing_payment_row",
    ),
    path(
        "billing/payments/<uuid:payment_id>/authenticate/",
        views.billing_payment_authenticate,
        name="billing_payment_authenticate",
    ),
    path(
        "billing/promotions/redeem/",
        views.billing_promotion_redeem,
        name="billing_promotion_redeem",
    ),
    path("billing/alerts/", views.billing_alert_update, name="billing_alert_update"),
    path("billing/auto-top-up/", views.billing_auto_top_up_update, name="billing_auto_top_up"),
    path("billing/details/", views.billing_details, name="billing_details"),
    path(
        "billing/documents/<uuid:document_id>/download/",
        views.billing_document_download,
        name="billing_document_download",
    ),
]
