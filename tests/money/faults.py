"""Faults injected into the real stack, each for a bounded time, by patching one function.

- `stripe_write_crash`: the process dies at the k-th Stripe write (POST or DELETE) of an
  operation, either before the request leaves or after Stripe answered. Patched at the Stripe
  library's one request method, so it holds whatever the gateway modules look like inside.
- `local_apply_fails`: the history-row write (SubscriptionChange) and the ledger write
  (CreditLedgerEntry) raise a database error, as a locked or failing database does.
"""

import contextlib
from collections.abc import Iterator

import stripe
from django.db import DatabaseError

from billing.models import CreditLedgerEntry
from subscriptions.models import SubscriptionChange


class Crash(BaseException):  # noqa: N818 - a process death, not an error anyone handles
    """The worker or request died here: no `except Exception` in the code under test sees it."""


class InjectedDatabaseFault(DatabaseError):
    pass


WRITES = ("post", "delete")


@contextlib.contextmanager
def stripe_write_crash(*, nth: int, after_answer: bool) -> Iterator[list[str]]:
    """Crash once, at the nth Stripe write; yields the writes seen (for the report)."""
    real = stripe.StripeClient.raw_request
    seen: list[str] = []

    def raw_request(self, method, url, **params):  # noqa: ANN001, ANN202, ANN003
        if str(method).lower() not in WRITES:
            return real(self, method, url, **params)
        seen.append(f"{method.upper()} {url}")
        if len(seen) != nth:
            return real(self, method, url, **params)
        if not after_answer:
            raise Crash(f"crash before {method.upper()} {url}")
        real(self, method, url, **params)  # Stripe did it; the answer is lost
        raise Crash(f"crash after {method.upper()} {url} answered")

    stripe.StripeClient.raw_request = raw_request
    try:
        yield seen
    finally:
        stripe.StripeClient.raw_request = real


class LocalApplyFault:
    """Failing history-row and ledger writes, switched on and off by the machine."""

    def __init__(self) -> None:
        self.active = False
        self._saved = {}

    def _failing(self, model: type) -> object:
        real = model.save
        fault = self

        def save(instance, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
            if fault.active:
                raise InjectedDatabaseFault(f"injected: writing {model.__name__} failed")
            return real(instance, *args, **kwargs)

        return save

    def install(self) -> None:
        for model in (SubscriptionChange, CreditLedgerEntry):
            self._saved[model] = model.save
            model.save = self._failing(model)

    def uninstall(self) -> None:
        for model, real in self._saved.items():
            model.save = real
        self._saved.clear()
        self.active = False
