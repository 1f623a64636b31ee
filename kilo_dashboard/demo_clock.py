"""The demo's story clock: seed_demo replays months of a customer's life through the real
services, each step at the moment it would have happened.

Every service reads `timezone.now()`, so travelling the process clock is what dates the rows,
the audit chain (in time order, as in production), the ledger's entries and effective dates,
and the receipts' numbers consistently. Only the seeding process travels: localstripe, the
worker and the web server keep real time (Stripe objects are therefore dated at seeding time).
time-machine is one of the demo extras (pyproject.toml), imported only when seeding.
"""

import zoneinfo
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta

from django.utils import timezone


def local_moment(day: date, hour: float, time_zone: str) -> datetime:
    """`hour` o'clock (fractions are minutes) on `day` in `time_zone`, as an aware datetime."""
    whole = int(hour)
    minutes = round((hour - whole) * 60)
    return datetime.combine(day, time(whole, minutes), zoneinfo.ZoneInfo(time_zone))


@contextmanager
def story_at(moment: datetime) -> Iterator[None]:
    """Run the block as if it were `moment` (the clock ticks on from there). A moment that is
    not in the past runs at the real time: the story never gets ahead of the present."""
    if moment >= timezone.now():
        yield
        return
    import time_machine  # the demo extra; not needed to serve the dashboard

    with time_machine.travel(moment, tick=True):
        yield


def days_between(first: date, last: date) -> Iterator[date]:
    """Every day from `first` to `last`, both included."""
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)
