"""What one OTLP request may carry, and what happens past each limit.

    limit (setting)                 past it
    max_body_bytes                  413; nothing stored (collector/body.py)
    max_items (spans or log         413; nothing stored: the decoders count before
      records per request)          decoding, and a batch cut at an arbitrary span
                                    would leave traces half stored with nothing to retry
    max_value_depth                 400 naming the value; nothing stored (the decoders)
    max_attributes (per span,       the first N kept, the others counted in the
      event, link, record, scope    item's dropped_attributes_count, and told in
      or resource)                  partial_success (rejected: 0)
    max_value_bytes (any string     cut at the limit (UTF-8), "…[truncated N bytes]"
      the client sends)             appended, the rest of the span kept; told in
                                    partial_success

The two per-item limits apply after decoding, to the domain objects both encodings
(and gRPC) produce, so every door answers alike. They run on the ingest hot path:
a span within the limits costs a few length checks, and no string is measured at all
when the whole body could not hold one over the limit (see :func:`_cutter`).

Identifiers the store indexes (model, tool, agent, version, session, service, an
agent's evaluator name) are capped much lower, at :data:`MAX_INDEXED_CHARS`, by
:func:`indexed`: PostgreSQL refuses a B-tree entry over ~2.7 kB, which failed the
whole transaction. Only the canonical column is cut; the raw attribute keeps the value.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from itertools import islice
from typing import Any

from collector.decoded import MAX_INT32, MAX_VALUE_DEPTH, Decoded, Rejections
from collector.errors import PayloadTooLarge
from collector.log_records import DecodedLogs
from collector.spans import Attributes, Resource, Scope

MARKER = "…[truncated {} bytes]"
MAX_INDEXED_CHARS = 256


@dataclass(frozen=True, slots=True)
class Limits:
    """The per-request limits, from the settings of the same names (``reasonlens/settings.py``)."""

    max_body_bytes: int = 16 << 20
    max_items: int = 50_000
    max_attributes: int = 1024
    max_value_bytes: int = 1 << 20
    max_value_depth: int = MAX_VALUE_DEPTH


DEFAULT_LIMITS = Limits()


def check_count(count: int, limits: Limits, noun: str) -> None:
    """Refuse a request carrying more spans (or log records) than ``limits`` allow."""
    if count > limits.max_items:
        raise PayloadTooLarge(
            f"request carries {count} {noun}s, over the limit of {limits.max_items} per request "
            "(REASONLENS_MAX_SPANS_PER_REQUEST); nothing was stored: send smaller batches"
        )


def indexed(text: str | None) -> str | None:
    """A canonical column the store indexes, cut to :data:`MAX_INDEXED_CHARS`."""
    if text is None or len(text) <= MAX_INDEXED_CHARS:
        return text
    return f"{text[:MAX_INDEXED_CHARS]}…[truncated {len(text) - MAX_INDEXED_CHARS} chars]"


class _Cutter:
    """Truncates strings over ``limit`` UTF-8 bytes and counts what it cut."""

    __slots__ = ("bytes_cut", "limit", "quick", "values_cut")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        # A string of at most this many characters is at most ``limit`` bytes in UTF-8
        # (four bytes a character at most): no encoding needed to know it fits.
        self.quick = limit // 4
        self.values_cut = 0
        self.bytes_cut = 0

    def text(self, text: str) -> str:
        if len(text) <= self.quick:
            return text
        # surrogatepass: a str built in memory may hold a lone surrogate (never one
        # decoded from the wire, which protobuf and orjson both refuse).
        raw = text.encode("utf-8", "surrogatepass")
        if len(raw) <= self.limit:
            return text
        # "ignore" drops a character the cut split in two.
        kept = raw[: self.limit].decode("utf-8", "ignore")
        cut = len(raw) - len(kept.encode("utf-8", "surrogatepass"))
        self.values_cut += 1
        self.bytes_cut += cut
        return kept + MARKER.format(cut)

    def value(self, value: Any) -> Any:
        """``value`` with every string in it truncated; lists and dicts in place (they are
        fresh from the decoder, seen by nothing else yet). Depth is bounded by the
        decoders' ``max_value_depth``."""
        kind = type(value)
        if kind is str:
            return self.text(value)
        if kind is list:
            for index, item in enumerate(value):
                new = self.value(item)
                if new is not item:
                    value[index] = new
        elif kind is dict:
            for key, item in value.items():
                new = self.value(item)
                if new is not item:
                    value[key] = new  # an existing key: the dict keeps its size
        return value


class _Trimmer:
    """Keeps the first ``limit`` attributes of each set and counts the others."""

    __slots__ = ("dropped", "limit", "sets")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.dropped = 0
        self.sets = 0

    def trim(self, attributes: Attributes) -> tuple[Attributes, int]:
        """The attributes kept, and how many were dropped."""
        over = len(attributes) - self.limit
        if over <= 0:
            return attributes, 0
        self.dropped += over
        self.sets += 1
        return dict(islice(attributes.items(), self.limit)), over

    def items(self, items: list[dict[str, Any]]) -> None:
        """Events or links (JSON-ready dicts): their attributes and dropped counts."""
        for item in items:
            kept, over = self.trim(item["attributes"])
            if over:
                item["attributes"] = kept
                item["dropped_attributes_count"] = _add(item["dropped_attributes_count"], over)


def _add(count: int, more: int) -> int:
    """A dropped count plus ``more``, kept within the store's INTEGER column."""
    return min(MAX_INT32, count + more)


def _cutter(limits: Limits, body_bytes: int) -> _Cutter | None:
    """A cutter, or None when no string in the body can be over the limit.

    A decoded string is never longer in UTF-8 than in the body: protobuf carries it
    as is and a JSON escape is longer than what it stands for. Only protobuf's
    bytes_value grows, by a third, into base64 text. So a body under three quarters
    of ``max_value_bytes`` (under 768 KiB with the default 1 MiB: most SDK batches)
    skips the string checks altogether.
    """
    if (body_bytes + 2) // 3 * 4 <= limits.max_value_bytes:
        return None
    return _Cutter(limits.max_value_bytes)


class _Layers:
    """Resources and scopes after the limits: shared by many items, each done once.

    Their dicts are fresh from the decoder and seen by nothing else yet, so values are
    cut in place; a resource or scope that changes is replaced, for all its items.
    """

    __slots__ = ("_cut", "_done", "_trim")

    def __init__(self, trim: _Trimmer, cut: _Cutter | None) -> None:
        self._trim = trim
        self._cut = cut
        # id -> (the original, kept alive so that its id stays its own; the result)
        self._done: dict[int, tuple[Any, Any]] = {}

    def resource(self, resource: Resource) -> Resource:
        done = self._done.get(id(resource))
        if done is not None:
            return done[1]  # type: ignore[no-any-return]
        attributes, over = self._trim.trim(resource.attributes)
        if self._cut is not None:
            self._cut.value(attributes)
        result = resource
        if over:
            dropped = _add(resource.dropped_attributes_count, over)
            result = replace(resource, attributes=attributes, dropped_attributes_count=dropped)
        self._done[id(resource)] = (resource, result)
        return result

    def scope(self, scope: Scope) -> Scope:
        done = self._done.get(id(scope))
        if done is not None:
            return done[1]  # type: ignore[no-any-return]
        attributes, over = self._trim.trim(scope.attributes)
        name, version = scope.name, scope.version
        if self._cut is not None:
            self._cut.value(attributes)
            name, version = self._cut.text(name), self._cut.text(version)
        result = scope
        if over or name is not scope.name or version is not scope.version:
            result = Scope(name, version, attributes)
        self._done[id(scope)] = (scope, result)
        return result


def limit_spans(decoded: Decoded, limits: Limits, body_bytes: int) -> None:
    """Apply the attribute-count and value-length limits to every decoded span, in place.

    ``body_bytes``: the decompressed body's size, which decides whether any string can
    be over ``max_value_bytes``.
    """
    trim = _Trimmer(limits.max_attributes)
    cut = _cutter(limits, body_bytes)
    layers = _Layers(trim, cut)
    most = limits.max_attributes
    resource: Resource | None = None
    scope: Scope | None = None
    resource_after: Resource | None = None
    scope_after: Scope | None = None
    for span in decoded.spans:
        if len(span.attributes) > most:
            span.attributes, over = trim.trim(span.attributes)
            span.dropped_attributes_count = _add(span.dropped_attributes_count, over)
        if span.events:
            trim.items(span.events)
        if span.links:
            trim.items(span.links)
        # The spans of a ResourceSpans (ScopeSpans) share one object, in a row.
        if span.resource is not resource:
            resource = span.resource
            resource_after = layers.resource(resource)
        span.resource = resource_after  # type: ignore[assignment]
        if span.scope is not scope:
            scope = span.scope
            scope_after = layers.scope(scope)
        span.scope = scope_after  # type: ignore[assignment]
        if cut is not None:
            span.name = cut.text(span.name)
            span.status_message = cut.text(span.status_message)
            span.trace_state = cut.text(span.trace_state)
            cut.value(span.attributes)
            for event in span.events:
                event["name"] = cut.text(event["name"])
                cut.value(event["attributes"])
            for link in span.links:
                link["trace_state"] = cut.text(link["trace_state"])
                cut.value(link["attributes"])
    _report(decoded, trim, cut, limits, "span, event, link, scope or resource")


def limit_logs(decoded: DecodedLogs, limits: Limits, body_bytes: int) -> None:
    """:func:`limit_spans` for log records: attributes, body and texts."""
    trim = _Trimmer(limits.max_attributes)
    cut = _cutter(limits, body_bytes)
    layers = _Layers(trim, cut)
    for record in decoded.records:
        kept, over = trim.trim(record.attributes)
        if over:
            record.attributes = kept
            record.dropped_attributes_count = _add(record.dropped_attributes_count, over)
        record.resource = layers.resource(record.resource)
        record.scope = layers.scope(record.scope)
        if cut is not None:
            record.severity_text = cut.text(record.severity_text)
            record.event_name = cut.text(record.event_name)
            record.body = cut.value(record.body)
            cut.value(record.attributes)
    _report(decoded, trim, cut, limits, "log record, scope or resource")


def _report(
    decoded: Rejections, trim: _Trimmer, cut: _Cutter | None, limits: Limits, holders: str
) -> None:
    if trim.dropped:
        decoded.notes.append(
            f"{trim.dropped} attribute{'s' if trim.dropped > 1 else ''} dropped from "
            f"{trim.sets} {holders} attribute sets over the limit of {limits.max_attributes} "
            "(REASONLENS_MAX_ATTRIBUTES_PER_SPAN); the first ones were kept"
        )
    if cut is not None and cut.values_cut:
        decoded.notes.append(
            f"{cut.values_cut} value{'s' if cut.values_cut > 1 else ''} over "
            f"{limits.max_value_bytes} bytes truncated ({cut.bytes_cut} bytes cut, "
            'REASONLENS_MAX_ATTRIBUTE_VALUE_BYTES), marked "…[truncated N bytes]"'
        )
