"""Thin Celery wrappers: each calls one function and is safe to run twice."""

from celery import shared_task
from django.conf import settings

from .catalog_sync import catalog_sync


@shared_task(name="providers.tasks.refresh_model_catalog")
def refresh_model_catalog() -> str:
    """The daily refresh. A failed fetch or a bad source keeps the last good catalog; the
    attempt is logged at ERROR and shown on the Providers tab (CatalogSync)."""
    url = settings.PROVIDERS_CATALOG_URL
    if not url:
        return "disabled"
    return catalog_sync(source=url).status
