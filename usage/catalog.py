"""Model prices for usage costs, from the providers app's catalog (with its price history).

Prices are USD per 1,000,000 tokens, so `tokens x price` is already microdollars. They are exact
decimals and the product is rounded half-up to a whole microdollar: never a float. An event is
priced at the price in force when it happened (`occurred_at`), not the price of today.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from django.utils import timezone

from providers.selectors import PriceHistory, price_history


@dataclass(frozen=True)
class Price:
    """USD per million tokens of each kind."""

    input: Decimal
    output: Decimal
    cache_read: Decimal
    cache_write: Decimal

    def cost_microdollars(
        self, *, input_tokens: int, output_tokens: int, cache_read: int, cache_write: int
    ) -> int:
        total = (
            input_tokens * self.input
            + output_tokens * self.output
            + cache_read * self.cache_read
            + cache_write * self.cache_write
        )
        return int(total.quantize(Decimal(1), rounding=ROUND_HALF_UP))


class PriceBook:
    """The price histories of one batch's models, read in one query."""

    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        self._history: PriceHistory = price_history(pairs)

    def price_at(self, provider: str, model: str, when: datetime) -> Price | None:
        found = self._history.price_at(provider, model, when)
        if found is None:
            return None
        return Price(found.input, found.output, found.cache_read, found.cache_write)


def price_for(provider: str, model: str, at: datetime | None = None) -> Price | None:
    """The catalog price of `model` at `provider` at time `at` (default: now), or None when
    either is unknown or unpriced."""
    return PriceBook([(provider, model)]).price_at(provider, model, at or timezone.now())
