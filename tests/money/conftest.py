"""The stack the money machine runs on (tests/money)."""

import pytest

from billing import documents
from billing.models import Document
from subscriptions.demo import plans_sync


@pytest.fixture
def machine_stack(transactional_db, monkeypatch):  # noqa: ANN001, ANN201
    """Tasks run in-process (the resume, the reconcile, the webhook's handling); the receipts'
    PDFs are not rendered (their rows are what the invariants read; rendering costs a second
    each and is tested in tests/billing/test_documents.py)."""
    from kilo_dashboard.celery import app

    monkeypatch.setattr(
        documents, "document_render", lambda document_id: Document.objects.get(pk=document_id)
    )
    saved = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, True
    plans_sync()
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = saved
