"""A span's cost columns, worked out in the decode workers beside its other columns.

The cost used is the client's own when it sent one (``llm.cost.*``, Langfuse's cost
details...), else the price book's; the other is kept beside it, so the pages can say
which is used and how far apart they are. A model call with usage that no price
covers and no reported cost is "unpriced": its cost is unknown, never $0.
"""

from __future__ import annotations

from collector.normalize.canonical import Canonical
from store.pricing.book import price_for
from store.pricing.prices import Price, usd_of
from store.vocabulary import USAGE_KINDS

SpanCost = tuple[float | None, float | None, float | None, str | None, str | None]
"""(cost_usd, reported_cost_usd, computed_cost_usd, cost_source, price_key)"""

_NONE: SpanCost = (None, None, None, None, None)


def span_cost(c: Canonical, start_ns: int, used: dict[str, Price]) -> SpanCost:
    """The span's cost columns; a price it used is added to ``used`` for the writer."""
    reported = c.cost_usd
    if c.kind not in USAGE_KINDS or not (c.input_tokens or c.output_tokens):
        return _NONE if reported is None else (reported, reported, None, "reported", None)
    price = price_for(c.provider, c.model or c.request_model, start_ns)
    computed = key = None
    if price is not None:
        computed = usd_of(
            price,
            c.input_tokens or 0,
            c.output_tokens or 0,
            c.cache_read_tokens or 0,
            c.cache_write_tokens or 0,
            c.reasoning_tokens or 0,
        )
        key = price.key
        used[key] = price
    if reported is not None:
        return (reported, reported, computed, "reported", key)
    if computed is not None:
        return (computed, None, computed, "computed", key)
    return (None, None, None, "unpriced", None)
