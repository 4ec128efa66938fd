"""The public fixtures priced: the same call costs the same in every convention, and a
Vercel AI SDK trace, whose outer spans repeat their children's usage, is charged once."""

from __future__ import annotations

import math

import pytest

from collector.costing import span_cost
from collector.normalize import normalize
from store.pricing.prices import Price
from store.vocabulary import USAGE_KINDS
from tests.test_normalize_fixtures import SAME_CHAT, chat
from tests.test_normalize_support import load_vercel


def test_the_same_chat_costs_the_same_in_every_convention() -> None:
    costs = [span_cost(chat(name), 1_760_000_000_000_000_000, {}) for name in SAME_CHAT]
    assert all(cost == costs[0] for cost in costs), costs
    cost, reported, computed, source, key = costs[0]
    assert source == "computed" and reported is None and key is not None
    assert cost == computed and computed is not None and computed > 0


def test_a_vercel_trace_is_charged_once_per_model_call() -> None:
    spans = load_vercel("all-spans.json")
    used: dict[str, Price] = {}
    rows = [(normalize(span), span) for span in spans]
    costs = [(c, span_cost(c, span.start_time_ns, used)) for c, span in rows]
    charged = [(c, cost) for c, cost in costs if cost[3] is not None]
    # Only the model calls carry a cost; the outer ai.* spans repeating their usage none.
    assert charged and all(c.kind in USAGE_KINDS for c, _ in charged)
    assert all(cost == (None,) * 5 for c, cost in costs if c.kind not in USAGE_KINDS)
    for c, (total, _, computed, source, key) in charged:
        assert source == "computed" and total == computed, c.model
        price = used[key]
        uncached = (c.input_tokens or 0) - (c.cache_read_tokens or 0)
        expected = (
            uncached * price.usd_per_mtok["input"]
            + (c.cache_read_tokens or 0) * price.usd_per_mtok.get("cache_read", 0)
            + (c.output_tokens or 0) * price.usd_per_mtok.get("output", 0)
        ) / 1e6
        assert math.isclose(total, expected, rel_tol=1e-12), c.model
    models = {c.model for c, _ in charged}
    assert models == {"gpt-4o-mini-2024-07-18", "text-embedding-3-small"}


@pytest.mark.parametrize("name", ["ai-generateText.json", "ai-streamText.json", "ai-embed.json"])
def test_an_outer_vercel_span_has_no_cost_of_its_own(name: str) -> None:
    outer = normalize(load_vercel(name)[0])
    assert span_cost(outer, 1_760_000_000_000_000_000, {}) == (None,) * 5
