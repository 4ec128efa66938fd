"""Which price prices a model call, and what it then costs.

Looked up per (provider, model, UTC day of the call): prices change on dates, and a
day's lookups repeat the same few models, so each is resolved once per process and
day. Custom per-project prices will be consulted first once they exist; today the
price book is the registry (``store/pricing/registry.py``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache

from store.pricing.prices import Price, Usage
from store.pricing.registry import registry_price

NS_PER_DAY = 86_400 * 1_000_000_000


def price_for(provider: str | None, model: str | None, start_ns: int) -> Price | None:
    if not model:
        return None
    return _registry(provider, model.strip().lower(), start_ns // NS_PER_DAY)


@lru_cache(maxsize=8192)  # model names are client text: bounded
def _registry(provider: str | None, model: str, day: int) -> Price | None:
    return registry_price(provider, model, datetime.fromtimestamp(day * 86_400, UTC))


def usage_of(
    input_tokens: int | None,
    output_tokens: int | None,
    cache_read_tokens: int | None,
    cache_write_tokens: int | None,
    reasoning_tokens: int | None,
) -> Usage:
    return Usage(
        input=input_tokens or 0,
        output=output_tokens or 0,
        cache_read=cache_read_tokens or 0,
        cache_write=cache_write_tokens or 0,
        reasoning=reasoning_tokens or 0,
    )
