from django.urls import path

from . import views

# Mounted under /orgs/<org_slug>/audit/ : every view goes through organizations.access.org_view.
org_scoped = [
    path("", views.audit_tab, name="audit_tab"),
    path("export.csv", views.audit_export_csv, name="audit_export_csv"),
    path("export.jsonl", views.audit_export_jsonl, name="audit_export_jsonl"),
    path("retention/", views.audit_retention, name="audit_retention"),
]
