"""Which price prices a model call, and what it then costs.

The project's custom prices first (``store/pricing/custom.py``), then the registry
(``store/pricing/registry.py``). Registry prices are looked up per (provider, model,
UTC day of the call): prices change on dates, and a day's lookups repeat the same few
models, so each is resolved once per process and day.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache

from store.pricing.custom import CustomRule, best_rule
from store.pricing.prices import Price, Usage, usd_of
from store.pricing.registry import registry_price

NS_PER_DAY = 86_400 * 1_000_000_000

CostColumns = tuple[float | None, float | None, float | None, str | None, str | None]
"""A span's (cost_usd, reported_cost_usd, computed_cost_usd, cost_source, price_key)."""

_NONE: CostColumns = (None, None, None, None, None)


@dataclass(frozen=True, slots=True)
class PriceBook:
    """Every project's custom prices (best first, by project name), as the collector
    hands them to its decode workers with each request; the registry is the same
    everywhere and stays out of it."""

    rules: dict[str, tuple[CustomRule, ...]] = field(default_factory=dict)

    def price(
        self, project: str | None, provider: str | None, model: str | None, start_ns: int
    ) -> Price | None:
        if not model:
            return None
        rules = self.rules.get(project) if project is not None else None
        if rules:
            rule = best_rule(rules, provider, model.strip(), start_ns)
            if rule is not None:
                return rule.price
        return price_for(provider, model, start_ns)


REGISTRY_ONLY = PriceBook()


def cost_columns(
    book: PriceBook,
    project: str | None,
    uses_tokens: bool,
    provider: str | None,
    model: str | None,
    start_ns: int,
    tokens: tuple[int | None, int | None, int | None, int | None, int | None],
    reported: float | None,
    used: dict[str, Price],
) -> CostColumns:
    """A span's cost columns, at ingest and when re-pricing: the client's cost is used
    when it sent one, the price book's is kept beside it; a model call with usage that
    no price covers and no reported cost is "unpriced" (unknown, never $0).

    ``project``: the span's project name, whose custom prices come first;
    ``uses_tokens``: an LLM or embedding span (the kinds a trace's usage sums);
    ``tokens``: input, output, cache read, cache write, reasoning, as stored. A price
    used is added to ``used``, for the ``prices`` table.
    """
    input_tokens, output_tokens, cache_read, cache_write, reasoning = tokens
    if not uses_tokens or not (input_tokens or output_tokens):
        return _NONE if reported is None else (reported, reported, None, "reported", None)
    price = book.price(project, provider, model, start_ns)
    computed = key = None
    if price is not None:
        computed = usd_of(
            price,
            input_tokens or 0,
            output_tokens or 0,
            cache_read or 0,
            cache_write or 0,
            reasoning or 0,
        )
        key = price.key
        used[key] = price
    if reported is not None:
        return (reported, reported, computed, "reported", key)
    if computed is not None:
        return (computed, None, computed, "computed", key)
    return (None, None, None, "unpriced", None)


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
