"""Enqueue a Celery task by its registered name ("<app>.tasks.<function>").

Services schedule side effects (render a PDF, send an email) after commit, but tasks import
services, never the reverse: a service names the task instead of importing its module, which
keeps the import graph one-way. `.delay()` on the registered task still honours eager mode (the
demo without a broker, the tests that ask for it).
"""

import importlib

from kilo_dashboard.celery import app


def enqueue(task_name: str, *args: object) -> None:
    if task_name not in app.tasks:
        # Registered when its module is imported; the worker imports every tasks module at
        # start, a web process only once it first needs one.
        importlib.import_module(task_name.rpartition(".")[0])
    app.tasks[task_name].delay(*args)
