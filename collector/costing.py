"""A span's cost, worked out in the decode workers beside its other columns
(``store.pricing.book.cost_columns``: the same rule re-pricing applies), and the
``span_costs`` values that keep it (carried in the span's batch row, ahead of its columns)."""

from __future__ import annotations

from collector.normalize.canonical import Canonical
from store.batch import NO_COST, CostValues
from store.pricing.book import REGISTRY_ONLY, CostColumns, PriceBook, cost_columns
from store.pricing.prices import Price
from store.types import to_json
from store.vocabulary import USAGE_KINDS


def span_cost(
    c: Canonical,
    start_ns: int,
    used: dict[str, Price],
    book: PriceBook = REGISTRY_ONLY,
    project: str | None = None,
) -> CostColumns:
    """The span's cost columns; a price it used is added to ``used`` for the writer."""
    return cost_columns(
        book,
        project,
        c.kind in USAGE_KINDS,
        c.provider,
        c.model or c.request_model,
        start_ns,
        (c.input_tokens, c.output_tokens, c.cache_read_tokens, c.cache_write_tokens,
         c.reasoning_tokens),
        c.cost_usd,
        used,
    )  # fmt: skip


def cost_values(c: Canonical, cost: CostColumns) -> CostValues:
    """The ``span_costs`` values; :data:`NO_COST` for a span with nothing to say about
    cost (no reported cost, and not a model call with usage)."""
    if cost[3] is None:  # cost_source
        return NO_COST
    details = None if c.cost_details is None else to_json(c.cost_details)
    return (c.kind in USAGE_KINDS, *cost, details)
