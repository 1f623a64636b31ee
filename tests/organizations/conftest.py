"""Invitation emails go out from a Celery task: here it runs in-process (as in the demo), so a test
sees the email in the outbox at once. tests/security covers the task on a real worker."""

import pytest


@pytest.fixture(autouse=True)
def _eager_tasks():
    from kilo_dashboard.celery import app

    saved = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = saved
