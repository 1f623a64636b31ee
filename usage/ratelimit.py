"""A per-key fixed-window rate limit on the shared cache (Redis outside the demo)."""

import time

from django.conf import settings
from django.core.cache import cache

WINDOW_SECONDS = 60


def hit(key_id: int) -> int:
    """Count one request; return 0 when allowed, else the seconds until the window resets."""
    now = int(time.time())
    window = now // WINDOW_SECONDS
    name = f"usage-ingest-rl:{key_id}:{window}"
    cache.add(name, 0, timeout=WINDOW_SECONDS + 5)
    try:
        count = cache.incr(name)
    except ValueError:  # expired between add and incr
        cache.set(name, 1, timeout=WINDOW_SECONDS + 5)
        count = 1
    if count > settings.USAGE_INGEST_RATE_LIMIT_PER_MINUTE:
        return (window + 1) * WINDOW_SECONDS - now or 1
    return 0
