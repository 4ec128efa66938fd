"""The fixed vocabulary of convention names a span can be read with.

Every rule row names the convention that defines its key (``None`` for generic OTel keys
such as ``deployment.environment`` or ``service.version``, which say nothing about the
instrumentation), and ``Canonical.conventions`` lists the ones whose keys a span
carried. A closed set keeps that column filterable and lets a test reject a typo in a
rule table.
"""

from __future__ import annotations

OTEL_GENAI = "otel_genai"
OTEL_GENAI_DEPRECATED = "otel_genai_deprecated"
OPENINFERENCE = "openinference"
OPENLLMETRY = "openllmetry"
LANGFUSE = "langfuse"
VERCEL_AI = "vercel_ai"
PYDANTIC_AI = "pydantic_ai"
LOGFIRE = "logfire"
OPENLIT = "openlit"
SENTRY = "sentry"
GOOGLE_ADK = "google_adk"
MLFLOW = "mlflow"

VOCABULARY: frozenset[str] = frozenset(
    {
        OTEL_GENAI,
        OTEL_GENAI_DEPRECATED,
        OPENINFERENCE,
        OPENLLMETRY,
        LANGFUSE,
        VERCEL_AI,
        PYDANTIC_AI,
        LOGFIRE,
        OPENLIT,
        SENTRY,
        GOOGLE_ADK,
        MLFLOW,
    }
)
