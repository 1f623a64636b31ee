"""Model prices from the bundled models.dev catalog (usage/data/modelsdev_api.json, MIT).

Prices there are USD per 1,000,000 tokens, so `tokens x price` is already microdollars. They are
read as Decimal and the product is rounded half-up to a whole microdollar: never a float.
"""

import json
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from pathlib import Path

CATALOG_PATH = Path(__file__).resolve().parent / "data" / "modelsdev_api.json"


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


def _decimal(value: object) -> Decimal:
    if value is None:
        return Decimal(0)
    return Decimal(str(value))  # str(): the JSON's decimal text, not a binary float


@lru_cache(maxsize=1)
def load_catalog() -> dict:
    with CATALOG_PATH.open(encoding="utf-8") as handle:
        return json.load(handle, parse_float=Decimal)


@lru_cache(maxsize=4096)
def price_for(provider: str, model: str) -> Price | None:
    """The catalog price of `model` at `provider`, or None when either is unknown or unpriced."""
    entry = load_catalog().get(provider, {}).get("models", {}).get(model)
    if not entry or not entry.get("cost"):
        return None
    cost = entry["cost"]
    return Price(
        input=_decimal(cost.get("input")),
        output=_decimal(cost.get("output")),
        cache_read=_decimal(cost.get("cache_read", cost.get("input"))),
        cache_write=_decimal(cost.get("cache_write", cost.get("input"))),
    )
