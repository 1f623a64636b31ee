"""Who is acting when no user is: the ambient actor of system work.

Services called by tasks and webhooks pass `Actor.system()`. Rather than thread "which task" or
"which Stripe event" through every service signature, the code that starts such work says so
once (`acting_as`), and `audit_record` labels system actors with it: the Celery task name (set by
a task_prerun receiver in audit.receivers) or the Stripe event being handled (billing.webhooks).
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass


@dataclass(frozen=True)
class Ambient:
    actor_type: str
    label: str


_current: ContextVar[Ambient | None] = ContextVar("audit_ambient_actor", default=None)


def current() -> Ambient | None:
    return _current.get()


def enter(actor_type: str, label: str) -> Token:
    return _current.set(Ambient(actor_type, label[:255]))


def leave(token: Token) -> None:
    _current.reset(token)


@contextmanager
def acting_as(actor_type: str, label: str) -> Iterator[None]:
    token = enter(actor_type, label)
    try:
        yield
    finally:
        leave(token)
