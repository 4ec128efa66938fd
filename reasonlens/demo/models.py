"""The models the demo agents call: how many tokens a call costs and how long it takes.

Figures are rough public orders of magnitude (time to first token, decode speed,
prompt-cache rules), enough for dashboards and drift checks to look like production.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Literal

# "prefix": the provider caches a repeated prompt prefix on its own (OpenAI, Gemini),
# in 128-token steps once the prompt reaches 1,024 tokens. "explicit": the client marks
# the system prompt and tools for caching (Anthropic): written once, then read.
Caching = Literal["prefix", "explicit"]
CACHE_MIN_TOKENS = 1024
CACHE_STEP_TOKENS = 128


@dataclass(frozen=True, slots=True)
class Model:
    request: str  # what the client asks for
    response: str  # the dated snapshot that served it
    provider: str  # gen_ai.provider.name
    server: str
    ttft_ms: float  # time to first token, before the prompt's own cost
    ms_per_token: float
    caching: Caching = "prefix"
    reasoning: bool = False


GPT_4O_MINI = Model("gpt-4o-mini", "gpt-4o-mini-2024-07-18", "openai", "api.openai.com", 350, 9)
GPT_41 = Model("gpt-4.1", "gpt-4.1-2025-04-14", "openai", "api.openai.com", 500, 16)
GPT_41_MINI = Model("gpt-4.1-mini", "gpt-4.1-mini-2025-04-14", "openai", "api.openai.com", 380, 10)
O4_MINI = Model("o4-mini", "o4-mini-2025-04-16", "openai", "api.openai.com", 700, 7, reasoning=True)
CLAUDE_SONNET = Model(
    "claude-sonnet-4-5",
    "claude-sonnet-4-5-20250929",
    "anthropic",
    "api.anthropic.com",
    600,
    18,
    caching="explicit",
)
GEMINI_FLASH = Model(
    "gemini-2.5-flash",
    "gemini-2.5-flash",
    "gcp.vertex_ai",
    "us-central1-aiplatform.googleapis.com",
    420,
    5,
)


def tokens(text: str) -> int:
    """About four characters per token for English and JSON."""
    return max(1, math.ceil(len(text) / 4))


@dataclass(frozen=True, slots=True)
class Usage:
    input: int  # includes cached tokens (OTel GenAI)
    output: int  # includes reasoning tokens
    cache_read: int = 0
    cache_write: int = 0
    reasoning: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input + other.input,
            self.output + other.output,
            self.cache_read + other.cache_read,
            self.cache_write + other.cache_write,
            self.reasoning + other.reasoning,
        )


def usage(
    model: Model,
    rng: random.Random,
    *,
    prefix: int,
    prompt: int,
    output: int,
    warm: bool,
) -> Usage:
    """Usage of one call whose prompt is ``prompt`` tokens, ``prefix`` of them static.

    ``warm`` says the static prefix (system prompt and tools) was sent moments ago, by
    an earlier call of this run or an earlier turn of the session, so it may be cached.
    """
    reasoning = rng.randint(96, 1400) if model.reasoning else 0
    cache_read = cache_write = 0
    if model.caching == "explicit":
        if warm:
            cache_read = prefix
        else:
            cache_write = prefix
    elif warm and prompt >= CACHE_MIN_TOKENS and rng.random() < 0.85:
        cache_read = min(prompt, prefix) // CACHE_STEP_TOKENS * CACHE_STEP_TOKENS
    return Usage(prompt, output + reasoning, cache_read, cache_write, reasoning)


def latency_ms(model: Model, rng: random.Random, spent: Usage) -> float:
    """Time to first token (growing with the uncached prompt) plus decoding time."""
    uncached = spent.input - spent.cache_read
    first = model.ttft_ms + uncached * 0.04
    return (first + spent.output * model.ms_per_token) * rng.lognormvariate(0, 0.25)
