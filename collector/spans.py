"""The domain shape of a span: what the decoders produce and the normalizer reads.

Three shapes follow each other on the ingest path, with a pure function between each:
wire (protobuf ``Span``) -> :class:`RawSpan` (this module) -> row dict for the bulk insert.
Attribute values are plain Python (str, bool, int, float, list, dict); OTLP ``bytesValue``
becomes a base64 string so that every value can be stored as JSON unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Attributes = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Resource:
    """The entity that produced the spans (service, host, SDK); shared by many spans."""

    attributes: Attributes
    schema_url: str = ""
    dropped_attributes_count: int = 0


@dataclass(frozen=True, slots=True)
class Scope:
    """The instrumentation library that produced the spans."""

    name: str = ""
    version: str = ""
    attributes: Attributes = field(default_factory=dict)


@dataclass(slots=True)
class RawSpan:
    """One span as the client sent it, ids already validated and rendered as lowercase hex.

    Treat it as immutable, attributes dict included: the normalizer caches what it
    derives from a span's keys and from its resource and scope dicts. It is not
    ``frozen`` because a frozen dataclass sets each of its 19 fields through
    ``object.__setattr__``: 2.3 against 0.8 µs per span built, on every decoded span.

    ``events`` and ``links`` are kept as JSON-ready dicts:
    event = {"name", "time_unix_nano", "attributes", "dropped_attributes_count"};
    link = {"trace_id", "span_id", "trace_state", "attributes", "flags",
    "dropped_attributes_count"}.
    """

    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    otel_kind: int
    start_time_ns: int
    end_time_ns: int
    attributes: Attributes
    resource: Resource
    scope: Scope
    status_code: int = 0
    status_message: str = ""
    trace_state: str = ""
    flags: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)
    links: list[dict[str, Any]] = field(default_factory=list)
    dropped_attributes_count: int = 0
    dropped_events_count: int = 0
    dropped_links_count: int = 0
