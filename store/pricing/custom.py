"""A project's custom prices: read from ``custom_prices``, matched to model calls.

A rule's model pattern matches the whole model name, case-insensitively, ``*`` being
the only wildcard: ``in-house-*`` prices ``in-house-llm-7``, and ``in-house`` prices
nothing but ``in-house`` (anchored, as the registry's matching is). Among the rules
that match a call and were in effect when it started, the one that took effect last
wins; at the same time, an exact name beats a pattern, a longer pattern a shorter one,
and a rule for the call's provider one for any provider.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from store.models import CustomPrice, Project
from store.pricing.prices import Price

SOURCE = "custom"
_PRICE_COLUMNS = {
    "input": "input_usd_per_mtok",
    "output": "output_usd_per_mtok",
    "cache_read": "cache_read_usd_per_mtok",
    "cache_write": "cache_write_usd_per_mtok",
    "reasoning": "reasoning_usd_per_mtok",
}


@dataclass(frozen=True, slots=True)
class CustomRule:
    id: int
    model: str  # the pattern
    provider: str | None
    effective_from_ns: int | None
    price: Price
    _pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        parts = (re.escape(part) for part in self.model.split("*"))
        object.__setattr__(self, "_pattern", re.compile(".*".join(parts), re.IGNORECASE))

    def names(self, provider: str | None, model: str) -> bool:
        if self.provider is not None and self.provider != provider:
            return False
        return self._pattern.fullmatch(model) is not None

    def rank(self) -> tuple[int, int, int, int]:
        """Higher wins: later in effect, exact, longer, provider-specific."""
        return (
            self.effective_from_ns if self.effective_from_ns is not None else -1,
            "*" not in self.model,
            len(self.model),
            self.provider is not None,
        )


def rule_of(row: CustomPrice) -> CustomRule:
    per_mtok = {
        kind: float(value)
        for kind, column in _PRICE_COLUMNS.items()
        if (value := getattr(row, column)) is not None
    }
    start = row.effective_from
    start_ns = None if start is None else int(start.timestamp() * 1_000_000) * 1000
    price = Price(SOURCE, str(row.id), row.provider, row.model, per_mtok)
    return CustomRule(row.id, row.model, row.provider, start_ns, price)


def load_rules(connection: Connection) -> dict[str, tuple[CustomRule, ...]]:
    """Every project's rules, by project name (best first)."""
    with Session(bind=connection) as session:
        rows = session.execute(
            sa.select(Project.name, CustomPrice).join(Project, Project.id == CustomPrice.project_id)
        ).all()
    rules: dict[str, list[CustomRule]] = {}
    for project, price in rows:
        rules.setdefault(project, []).append(rule_of(price))
    return {
        project: tuple(sorted(found, key=CustomRule.rank, reverse=True))
        for project, found in rules.items()
    }


def best_rule(
    rules: Sequence[CustomRule], provider: str | None, model: str, start_ns: int
) -> CustomRule | None:
    """``rules`` best first (``load_rules``): the first that names the call and was in
    effect when it started."""
    for rule in rules:
        in_effect = rule.effective_from_ns is None or rule.effective_from_ns <= start_ns
        if in_effect and rule.names(provider, model):
            return rule
    return None
