"""Provider names: one spelling per provider whatever the convention wrote.

Targets are the ``gen_ai.provider.name`` well-known values (SEMCONV 2.3); the aliases
are the older ``gen_ai.system`` values, OpenInference's ``llm.system``/``llm.provider``,
OpenLLMetry's capitalised names and the Vercel AI SDK's ``<provider>.<api>`` ids
(SEMCONV 6.2, ``provider`` row).
"""

from __future__ import annotations

from typing import Any

KNOWN: frozenset[str] = frozenset(
    {
        "openai",
        "anthropic",
        "aws.bedrock",
        "azure.ai.inference",
        "azure.ai.openai",
        "azure.ai.content_safety",
        "cohere",
        "deepseek",
        "gcp.gemini",
        "gcp.vertex_ai",
        "gcp.gen_ai",
        "groq",
        "ibm.watsonx.ai",
        "mistral_ai",
        "moonshot_ai",
        "perplexity",
        "x_ai",
    }
)

ALIASES: dict[str, str] = {
    "az.ai.openai": "azure.ai.openai",
    "azure": "azure.ai.openai",
    "azure_openai": "azure.ai.openai",
    "az.ai.inference": "azure.ai.inference",
    "vertex_ai": "gcp.vertex_ai",
    "vertexai": "gcp.vertex_ai",
    "gemini": "gcp.gemini",
    "google": "gcp.gen_ai",
    "mistralai": "mistral_ai",
    "mistral": "mistral_ai",
    "xai": "x_ai",
    "aws": "aws.bedrock",
    "bedrock": "aws.bedrock",
    "amazon-bedrock": "aws.bedrock",
    "watsonx": "ibm.watsonx.ai",
    "ibm.watson.ai": "ibm.watsonx.ai",
    "moonshot": "moonshot_ai",
}


def normalize_provider(value: Any) -> str | None:
    """The canonical provider name for ``value``, or the lowercased value if unknown.

    A dotted value that is neither known nor an alias is read as ``<provider>.<api>``
    (``openai.responses``, which Vercel also writes into ``gen_ai.system``) when its
    first segment is a provider; otherwise it is kept, lowercased, so nothing is lost.
    """
    if type(value) is not str:
        return None
    name = value.strip().lower()
    if not name:
        return None
    if name in KNOWN:
        return name
    alias = ALIASES.get(name)
    if alias is not None:
        return alias
    head = name.partition(".")[0]
    if head != name:
        if head in KNOWN:
            return head
        alias = ALIASES.get(head)
        if alias is not None:
            return alias
    return name


def provider_before_dot(value: Any) -> str | None:
    """Vercel's ``ai.model.provider`` (``openai.chat``): the provider is the first segment."""
    if type(value) is not str:
        return None
    return normalize_provider(value.partition(".")[0])
