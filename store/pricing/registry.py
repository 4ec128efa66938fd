"""The default price source: the genai-prices package's bundled snapshot (no network).

genai-prices matches a model name with its own rules, some of them prefixes
(``starts_with: claude-3-5-sonnet``). A prefix is how it covers dated snapshots
(``claude-3-5-sonnet-20241022``), but it would also price a new model that merely
begins like an old one (``claude-sonnet-4-5-v2``) as the old one. So a match is
accepted only when the name *is* the matched name once a release stamp (a date,
``-latest``, ``-preview``, a Bedrock ``-v1:0``) and a vendor namespace
(``openai/``, ``us.anthropic.``) are set aside; any other name is unpriced, which
is shown, rather than priced wrongly, which is not.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

import genai_prices
from genai_prices import data_snapshot
from genai_prices import types as gp

from store.pricing.prices import Price, Tier

SOURCE = "genai-prices"
VERSION = genai_prices.__version__

# Our providers (SEMCONV 6.2's normalized gen_ai.provider.name) -> genai-prices ids.
# A provider not listed here is looked up by the model's name alone.
PROVIDERS = {
    "openai": "openai",
    "anthropic": "anthropic",
    "gcp.gemini": "google",
    "gcp.vertex_ai": "google",
    "gcp.gen_ai": "google",
    "aws.bedrock": "aws",
    "azure.ai.openai": "azure",
    "azure.ai.inference": "azure",
    "mistral_ai": "mistral",
    "x_ai": "x-ai",
    "deepseek": "deepseek",
    "groq": "groq",
    "cohere": "cohere",
    "perplexity": "perplexity",
    "together_ai": "together",
    "fireworks": "fireworks",
    "cerebras": "cerebras",
    "openrouter": "openrouter",
}

_PRICE_KEYS = {
    "input_mtok": "input",
    "cache_read_mtok": "cache_read",
    "cache_write_mtok": "cache_write",
    "output_mtok": "output",
}
# Release stamps at the end of a name: -20241022, -2024-10-22, @20241022, -0613,
# -latest, -preview, Bedrock's -v1:0.
_STAMP = re.compile(
    r"(?:[-@](?:\d{8}|\d{4}-\d{2}-\d{2}|\d{4}|latest|preview)|-v\d+:\d+)+$", re.IGNORECASE
)
_NAMESPACE_END = ("/", ".", ":")


def load() -> None:
    """Load the registry's tables now rather than at the first model call: a decode
    worker does so before it freezes its heap (``collector/service.py``)."""
    data_snapshot.get_snapshot()


def registry_price(provider: str | None, model: str, when: datetime) -> Price | None:
    """The registry's price of ``model`` at ``when``, or None when it has none we trust."""
    found = _find(PROVIDERS.get(provider or ""), model.strip().lower())
    if found is None:
        return None
    provider_info, model_info = found
    return _price(provider_info.id, model_info, when)


@lru_cache(maxsize=4096)  # names are client text: bounded
def _find(provider_id: str | None, model: str) -> tuple[gp.Provider, gp.ModelInfo] | None:
    snapshot = data_snapshot.get_snapshot()
    try:
        provider_info, model_info = snapshot.find_provider_model(model, None, provider_id, None)
    except LookupError:
        return None
    return (provider_info, model_info) if anchored(model_info.match, model) else None


def anchored(clause: Any, name: str) -> bool:
    """Whether ``clause`` (a genai-prices match rule) names ``name`` itself, not a model
    that merely starts or ends like it."""
    name = name.lower()
    if isinstance(clause, gp.ClauseEquals):
        return name == clause.equals.lower()
    if isinstance(clause, gp.ClauseOr):
        return any(anchored(part, name) for part in clause.or_)
    if isinstance(clause, gp.ClauseAnd):
        return all(anchored(part, name) for part in clause.and_)
    if isinstance(clause, gp.ClauseRegex):
        return re.search(clause.regex, name) is not None
    if isinstance(clause, gp.ClauseStartsWith):
        return _same_release(name, clause.starts_with.lower())
    if isinstance(clause, gp.ClauseContains):
        at = name.find(clause.contains.lower())
        return at >= 0 and _namespace(name[:at]) and _same_release(name[at:], clause.contains)
    if isinstance(clause, gp.ClauseEndsWith):
        cut = len(name) - len(clause.ends_with)
        return name.endswith(clause.ends_with.lower()) and _namespace(name[:cut])
    return False


def _same_release(name: str, prefix: str) -> bool:
    """``name`` is ``prefix`` or a dated release of it (``prefix`` may itself hold part
    of the date: ``claude-sonnet-4-2025``)."""
    prefix = prefix.lower()
    if not name.startswith(prefix):
        return False
    base = _STAMP.sub("", name)
    return name == prefix or base == prefix.rstrip("-@.") or prefix.startswith(base + "-")


def _namespace(text: str) -> bool:
    return text == "" or text.endswith(_NAMESPACE_END)


def _price(provider_id: str, model_info: gp.ModelInfo, when: datetime) -> Price:
    model_price = model_info.get_prices(when)
    per_mtok: dict[str, float] = {}
    tiers: dict[str, tuple[Tier, ...]] = {}
    for key, kind in _PRICE_KEYS.items():
        value = getattr(model_price, key, None)
        if isinstance(value, Decimal):
            per_mtok[kind] = float(value)
        elif isinstance(value, gp.TieredPrices):
            per_mtok[kind] = float(value.base)
            tiers[kind] = tuple(Tier(tier.start, float(tier.price)) for tier in value.tiers)
    return Price(SOURCE, VERSION, provider_id, model_info.id, per_mtok, tiers)
