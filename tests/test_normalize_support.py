"""Builders shared by the normalizer tests: RawSpans from attribute maps and fixtures.

Named ``test_normalize_*`` so that it sits with the tests it serves; it holds no tests.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from collector.normalize import Canonical, normalize
from collector.spans import RawSpan, Resource, Scope
from tests.paths import SHARED_FIXTURES

OPENINFERENCE_GENAI = SHARED_FIXTURES / "openinference-genai"
VERCEL_V6 = SHARED_FIXTURES / "vercel-ai-sdk-v6"


def make_span(
    attributes: dict[str, Any] | None = None,
    *,
    name: str = "span",
    parent: str | None = "00000000000000aa",
    resource: dict[str, Any] | None = None,
    scope: dict[str, Any] | None = None,
    events: list[dict[str, Any]] | None = None,
    status_code: int = 0,
    status_message: str = "",
) -> RawSpan:
    """A RawSpan as the decoder would produce it; a child span unless ``parent=None``."""
    return RawSpan(
        trace_id="0af7651916cd43dd8448eb211c80319c",
        span_id="b7ad6b7169203331",
        parent_span_id=parent,
        name=name,
        otel_kind=1,
        start_time_ns=1_700_000_000_000_000_000,
        end_time_ns=1_700_000_001_000_000_000,
        attributes=attributes if attributes is not None else {},
        resource=Resource(attributes=resource if resource is not None else {}),
        scope=Scope(name="test", attributes=scope if scope is not None else {}),
        status_code=status_code,
        status_message=status_message,
        events=events if events is not None else [],
    )


def run(attributes: dict[str, Any] | None = None, **kwargs: Any) -> Canonical:
    """Normalize a span built by :func:`make_span`."""
    return normalize(make_span(attributes, **kwargs))


def event(name: str, **attributes: Any) -> dict[str, Any]:
    """A span event as RawSpan keeps it."""
    return {
        "name": name,
        "time_unix_nano": 1_700_000_000_500_000_000,
        "attributes": attributes,
        "dropped_attributes_count": 0,
    }


def load_flat(name: str) -> dict[str, Any]:
    """One OpenInference-GenAI fixture: a flat attribute map."""
    attributes: dict[str, Any] = json.loads((OPENINFERENCE_GENAI / name).read_text())
    return attributes


def load_vercel(name: str) -> list[RawSpan]:
    """The spans of one Vercel AI SDK v6 fixture file (exported JS spans, no parents)."""
    exported: list[dict[str, Any]] = json.loads((VERCEL_V6 / name).read_text())
    return [make_span(item["attributes"], name=item["name"], parent=None) for item in exported]


def fixture_path(*parts: str) -> Path:
    return SHARED_FIXTURES.joinpath(*parts)
