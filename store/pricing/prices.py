"""A price and what it makes of a span's tokens: the cost, line by line.

Counts are stored the way OTel GenAI defines them (``collector/normalize/usage.py``):
``input_tokens`` includes the cache reads and writes, ``output_tokens`` includes the
reasoning tokens. So a price splits them, never adds them: the uncached input is the
input less its cached parts, each part at its own price, and a part without a price
of its own (no cache-read price, no reasoning price) stays in its parent at the
parent's price. Nothing is counted twice and nothing is dropped.

A :class:`Price` is immutable and named by a digest of its content (``key``): a span
keeps the key of the price that priced it, the ``prices`` table keeps each key's
content, and so every stored cost can be explained exactly, even after the price book
has moved on.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import orjson

# The token types a price may name, in the order a breakdown lists them.
TOKEN_TYPES = ("input", "cache_read", "cache_write", "output", "reasoning")
PER_TOKENS = 1_000_000  # prices are per million tokens, as providers publish them


@dataclass(frozen=True, slots=True)
class Tier:
    """From ``above`` input tokens on, every token of the call is at ``usd_per_mtok``
    (the cliff model providers use for long contexts)."""

    above: int
    usd_per_mtok: float


@dataclass(frozen=True, slots=True)
class Price:
    source: str  # "genai-prices" or "custom"
    version: str  # the registry's package version, or the custom price's id
    provider: str | None
    model: str  # the registry's model id, or the custom price's pattern
    usd_per_mtok: dict[str, float]  # token type -> price; absent types fold into a parent
    tiers: dict[str, tuple[Tier, ...]] = field(default_factory=dict)
    key: str = field(init=False, compare=False)  # a digest of the rest
    # Unit prices in TOKEN_TYPES order below every tier, and from each tier's threshold
    # on (highest first): a call's rates are one comparison per threshold away.
    _flat: tuple[float | None, ...] = field(init=False, repr=False, compare=False)
    _tiered: tuple[tuple[int, tuple[float | None, ...]], ...] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        unknown = (set(self.usd_per_mtok) | set(self.tiers)) - set(TOKEN_TYPES)
        if unknown:
            raise ValueError(f"no token type {sorted(unknown)} (known: {TOKEN_TYPES})")
        for value in self.usd_per_mtok.values():
            if not 0 <= value < float("inf"):
                raise ValueError(f"a price must be a finite, non-negative number, not {value}")
        digest = hashlib.blake2b(_canonical(self.as_json()), digest_size=8).hexdigest()
        object.__setattr__(self, "key", digest)
        object.__setattr__(self, "_flat", self._rates_at(0))
        thresholds = sorted({tier.above for tiers in self.tiers.values() for tier in tiers})
        tiered = tuple((above, self._rates_at(above + 1)) for above in reversed(thresholds))
        object.__setattr__(self, "_tiered", tiered)

    def _rates_at(self, input_tokens: int) -> tuple[float | None, ...]:
        return tuple(self.unit_price(kind, input_tokens) for kind in TOKEN_TYPES)

    def as_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "version": self.version,
            "provider": self.provider,
            "model": self.model,
            "usd_per_mtok": dict(sorted(self.usd_per_mtok.items())),
            "tiers": {
                kind: [[tier.above, tier.usd_per_mtok] for tier in tiers]
                for kind, tiers in sorted(self.tiers.items())
            },
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Price:
        return cls(
            source=data["source"],
            version=data["version"],
            provider=data["provider"],
            model=data["model"],
            usd_per_mtok={kind: float(value) for kind, value in data["usd_per_mtok"].items()},
            tiers={
                kind: tuple(Tier(int(above), float(price)) for above, price in tiers)
                for kind, tiers in data.get("tiers", {}).items()
            },
        )

    def rates(self, input_tokens: int) -> tuple[float | None, ...]:
        """Unit prices in ``TOKEN_TYPES`` order (None: no price of its own) for a call
        of ``input_tokens``."""
        for above, rates in self._tiered:
            if input_tokens > above:
                return rates
        return self._flat

    def unit_price(self, kind: str, input_tokens: int) -> float | None:
        """USD per million tokens of ``kind`` for a call of ``input_tokens``."""
        price = self.usd_per_mtok.get(kind)
        for tier in sorted(self.tiers.get(kind, ()), key=lambda t: t.above, reverse=True):
            if input_tokens > tier.above:
                return tier.usd_per_mtok
        return price


@dataclass(frozen=True, slots=True)
class Usage:
    """A span's stored counts (totals with their subsets, as stored)."""

    input: int = 0
    output: int = 0
    cache_read: int = 0
    cache_write: int = 0
    reasoning: int = 0


@dataclass(frozen=True, slots=True)
class Line:
    kind: str  # a token type
    tokens: int
    usd_per_mtok: float
    usd: float


@dataclass(frozen=True, slots=True)
class Cost:
    usd: float
    lines: tuple[Line, ...]
    notes: tuple[str, ...] = ()  # where the counts did not add up, and what was done


def cost_of(price: Price, usage: Usage) -> Cost:
    """The cost of ``usage`` at ``price``, with one line per token type charged."""
    charged, notes = _charged(
        price, usage.input, usage.output, usage.cache_read, usage.cache_write, usage.reasoning
    )
    lines = tuple(
        Line(kind, tokens, unit, tokens * unit / PER_TOKENS) for kind, tokens, unit in charged
    )
    return Cost(sum(line.usd for line in lines), lines, tuple(notes))


def usd_of(
    price: Price, input: int, output: int, cache_read: int, cache_write: int, reasoning: int
) -> float:
    """``cost_of(price, Usage(...)).usd`` (the same terms, summed in the same order)
    without building lines or notes: what ingest works out for every model call."""
    rates, counts = _split(price, input, output, cache_read, cache_write, reasoning)
    usd = 0  # as sum() starts
    for tokens, unit in zip(counts, rates, strict=True):
        if tokens and unit is not None:
            usd += tokens * unit / PER_TOKENS
    return usd


def _split(
    price: Price, input: int, output: int, cache_read: int, cache_write: int, reasoning: int
) -> tuple[tuple[float | None, ...], tuple[int, int, int, int, int]]:
    """The unit prices and the counts they apply to, in ``TOKEN_TYPES`` order: a part
    without a price of its own stays in its total; neither remainder goes below 0."""
    rates = price.rates(input)
    _, cache_read_rate, cache_write_rate, _, reasoning_rate = rates
    if cache_read_rate is None:
        cache_read = 0
    if cache_write_rate is None:
        cache_write = 0
    if reasoning_rate is None:
        reasoning = 0
    uncached = max(input - cache_read - cache_write, 0)
    return rates, (uncached, cache_read, cache_write, max(output - reasoning, 0), reasoning)


def _charged(
    price: Price, input: int, output: int, cache_read: int, cache_write: int, reasoning: int
) -> tuple[list[tuple[str, int, float]], list[str]]:
    """(token type, tokens, unit price) per type charged, in ``TOKEN_TYPES`` order."""
    rates, counts = _split(price, input, output, cache_read, cache_write, reasoning)
    _, cache_read, cache_write, _, reasoning = counts
    notes = []
    if input - cache_read - cache_write < 0:
        # A client whose input excludes its cached tokens (Anthropic's raw count): the
        # cached parts are charged, the uncached remainder cannot be negative.
        notes.append(_FEWER.format("input", input))
    if output - reasoning < 0:
        notes.append(_FEWER.format("output", output))
    charged = []
    for kind, tokens, unit in zip(TOKEN_TYPES, counts, rates, strict=True):
        if not tokens:
            continue
        if unit is None:
            notes.append(f"no price for {kind} tokens; they are not charged")
            continue
        charged.append((kind, tokens, unit))
    return charged, notes


_FEWER = "{} tokens ({:,}) are fewer than their cached or reasoning part; the rest is counted as 0"


def _canonical(data: dict[str, Any]) -> bytes:
    return orjson.dumps(data, option=orjson.OPT_SORT_KEYS)
