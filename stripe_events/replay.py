"""Missed webhooks: receive every recent event of a handled type we have not stored yet."""

import time

from billing import stripe_gateway as gateway

from .handlers import HANDLERS
from .services import Received, event_receive


def events_replay(*, since_seconds: int = 3 * 24 * 3600) -> int:
    """Receive recent handled events through the webhook path; returns how many were new or
    retried."""
    events = gateway.events_list(
        created_after=int(time.time()) - since_seconds, types=sorted(HANDLERS)
    )
    return sum(event_receive(event) in (Received.NEW, Received.RETRY) for event in events)
