"""The price book: a call's tokens at a price, line by line, and which models it prices."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime

import pytest

from store.pricing.prices import Price, Tier, Usage, cost_of, usd_of
from store.pricing.registry import registry_price

WHEN = datetime(2026, 11, 1, tzinfo=UTC)
FULL = Price(
    "custom",
    "1",
    None,
    "m",
    {"input": 2.0, "cache_read": 0.5, "cache_write": 4.0, "output": 8.0, "reasoning": 16.0},
)
PLAIN = Price("custom", "2", None, "m", {"input": 2.0, "output": 8.0})


def _lines(price: Price, usage: Usage) -> dict[str, tuple[int, float]]:
    return {line.kind: (line.tokens, line.usd_per_mtok) for line in cost_of(price, usage).lines}


def test_cached_and_reasoning_tokens_are_split_out_of_their_totals_never_added() -> None:
    # Stored as OTel defines them: 1,000 input of which 600 cache reads and 100 cache
    # writes; 500 output of which 200 reasoning.
    usage = Usage(input=1000, output=500, cache_read=600, cache_write=100, reasoning=200)
    assert _lines(FULL, usage) == {
        "input": (300, 2.0),
        "cache_read": (600, 0.5),
        "cache_write": (100, 4.0),
        "output": (300, 8.0),
        "reasoning": (200, 16.0),
    }
    cost = cost_of(FULL, usage)
    expected = (300 * 2 + 600 * 0.5 + 100 * 4 + 300 * 8 + 200 * 16) / 1e6
    assert math.isclose(cost.usd, expected) and cost.notes == ()
    assert sum(line.tokens for line in cost.lines) == usage.input + usage.output


def test_a_part_without_a_price_of_its_own_stays_in_its_total() -> None:
    usage = Usage(input=1000, output=500, cache_read=600, reasoning=200)
    assert _lines(PLAIN, usage) == {"input": (1000, 2.0), "output": (500, 8.0)}
    assert math.isclose(cost_of(PLAIN, usage).usd, (1000 * 2 + 500 * 8) / 1e6)


def test_counts_that_do_not_add_up_are_charged_once_and_said() -> None:
    # A client whose input leaves its cache reads out (Anthropic's raw count).
    cost = cost_of(FULL, Usage(input=100, output=10, cache_read=900))
    assert {line.kind: line.tokens for line in cost.lines} == {"cache_read": 900, "output": 10}
    assert any("fewer than" in note for note in cost.notes)


def test_a_long_context_tier_prices_every_token_of_the_call() -> None:
    tiered = Price(
        "custom", "3", None, "m", {"input": 1.0, "output": 4.0}, {"input": (Tier(200_000, 2.0),)}
    )
    assert _lines(tiered, Usage(input=200_000, output=1)) == {
        "input": (200_000, 1.0),
        "output": (1, 4.0),
    }
    assert _lines(tiered, Usage(input=200_001, output=1))["input"] == (200_001, 2.0)


def test_a_price_is_named_by_its_content() -> None:
    again = Price.from_json(FULL.as_json())
    assert again == FULL and again.key == FULL.key and len(FULL.key) == 16
    assert PLAIN.key != FULL.key
    cheaper = Price("custom", "1", None, "m", {**FULL.usd_per_mtok, "output": 7.0})
    assert cheaper.key != FULL.key


@pytest.mark.parametrize(
    "prices", [{"input": -1.0}, {"input": math.inf}, {"input": math.nan}, {"audio": 1.0}]
)
def test_a_bad_price_is_refused(prices: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        Price("custom", "1", None, "m", prices)


@pytest.mark.parametrize(
    ("provider", "model", "priced_as"),
    [
        ("openai", "gpt-4o", "gpt-4o"),
        ("openai", "gpt-4o-2024-08-06", "gpt-4o"),
        (None, "gpt-4o-mini", "gpt-4o-mini"),
        ("openai", "GPT-4o-mini", "gpt-4o-mini"),
        ("anthropic", "claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
        ("anthropic", "claude-3-5-sonnet-latest", "claude-3-5-sonnet"),
        ("anthropic", "claude-sonnet-4-20250514", "claude-sonnet-4-0"),
        ("gcp.vertex_ai", "gemini-2.5-pro", "gemini-2.5-pro"),
        ("unknown-gateway", "gpt-4.1-mini", "gpt-4.1-mini"),
    ],
)
def test_the_registry_prices_a_model_and_its_dated_releases(
    provider: str | None, model: str, priced_as: str
) -> None:
    price = registry_price(provider, model, WHEN)
    assert price is not None and price.model == priced_as
    assert price.source == "genai-prices" and price.version
    assert price.usd_per_mtok["input"] > 0 and price.usd_per_mtok["output"] > 0


@pytest.mark.parametrize(
    ("provider", "model"),
    [
        # Newer siblings that begin like a priced model must not get its price.
        ("openai", "gpt-4o-2099-01-01"),
        ("openai", "gpt-4o-turbo-max"),
        ("anthropic", "claude-sonnet-4-5-v2"),
        ("anthropic", "claude-sonnet-4-9"),
        ("openai", "gpt-5.9"),
        (None, "my-fine-tune"),
        (None, ""),
    ],
)
def test_a_model_the_registry_does_not_name_is_unpriced(provider: str | None, model: str) -> None:
    assert registry_price(provider, model, WHEN) is None


def test_the_fast_sum_ingest_uses_is_the_explained_cost_to_the_bit() -> None:
    """``usd_of`` (ingest, re-pricing) and ``cost_of`` (the breakdown) must agree exactly,
    or a page would explain a cost that differs from the stored one."""
    rng = random.Random(5)
    prices = [
        Price("custom", "1", None, "full", {"input": 2.5, "output": 10.0, "cache_read": 1.25,
              "cache_write": 3.75, "reasoning": 12.0}),
        Price("custom", "2", None, "plain", {"input": 0.15, "output": 0.6}),
        Price("custom", "3", None, "tiered", {"input": 1.0, "output": 4.0, "cache_read": 0.1},
              {"input": (Tier(200_000, 2.0),), "output": (Tier(200_000, 6.0),)}),
    ]  # fmt: skip
    for _ in range(2000):
        price = rng.choice(prices)
        usage = Usage(*(rng.choice([0, rng.randrange(1, 400_000)]) for _ in range(5)))
        fast = usd_of(price, usage.input, usage.output, usage.cache_read, usage.cache_write,
                      usage.reasoning)  # fmt: skip
        assert fast == cost_of(price, usage).usd, (price.model, usage)
