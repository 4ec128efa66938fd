"""Exceptions as the client libraries raise them, for ``span.record_exception``.

The SDK records an exception's type as ``module.QualName``; a tool's ``TimeoutError``
is the builtin itself, and a provider's ``openai.RateLimitError`` is a stand-in class
whose module says ``openai``, so the stored event reads like the real one without
the provider SDKs installed.
"""

from __future__ import annotations

import builtins
from functools import cache

from reasonlens.demo.script import Failure

RATE_LIMITS = {
    "openai": Failure(
        "openai.RateLimitError",
        "Error code: 429 - Rate limit reached for {model} in organization org-northwind on "
        "tokens per min (TPM): Limit 200000, Used 198812, Requested 2304. "
        "Please try again in 1.035s.",
    ),
    "anthropic": Failure(
        "anthropic.RateLimitError",
        "Error code: 429 - This request would exceed the rate limit for your organization "
        "of 400,000 input tokens per minute.",
    ),
    "gcp.vertex_ai": Failure(
        "google.api_core.exceptions.ResourceExhausted",
        "429 Quota exceeded for aiplatform.googleapis.com/"
        "generate_content_requests_per_minute_per_project_per_base_model ({model}).",
    ),
}


def rate_limit(provider: str, model: str) -> Failure:
    """The provider's 429, as its SDK words it."""
    template = RATE_LIMITS[provider]
    return Failure(template.type, template.message.format(model=model))


def exception(failure: Failure) -> BaseException:
    return exception_type(failure.type)(failure.message)


@cache
def exception_type(qualified: str) -> type[BaseException]:
    module, _, name = qualified.rpartition(".")
    builtin = getattr(builtins, name, None) if not module else None
    if isinstance(builtin, type) and issubclass(builtin, BaseException):
        return builtin
    return type(name, (Exception,), {"__module__": module or "builtins"})
