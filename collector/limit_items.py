"""The per-item limits after decoding: attributes per span (event, link, log record,
scope, resource), and the texts the decoders leave whole (names, status messages); then
what was dropped and cut, reported in partial_success. See :mod:`collector.limits`."""

from __future__ import annotations

from dataclasses import replace
from itertools import islice
from typing import Any

from collector.decoded import MAX_INT32, Decoded, Rejections
from collector.limits import Cutter, Limits
from collector.log_records import DecodedLogs
from collector.spans import Attributes, Resource, Scope


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


class _Layers:
    """Resources and scopes after the limits: shared by many items, each done once; one
    that changes is replaced, for all its items."""

    __slots__ = ("_cut", "_done", "_trim")

    def __init__(self, trim: _Trimmer, cut: Cutter | None) -> None:
        self._trim = trim
        self._cut = cut
        # id -> (the original, kept alive so that its id stays its own; the result)
        self._done: dict[int, tuple[Any, Any]] = {}

    def resource(self, resource: Resource) -> Resource:
        done = self._done.get(id(resource))
        if done is not None:
            return done[1]  # type: ignore[no-any-return]
        attributes, over = self._trim.trim(resource.attributes)
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
            name, version = self._cut.text(name), self._cut.text(version)
        result = scope
        if over or name is not scope.name or version is not scope.version:
            result = Scope(name, version, attributes)
        self._done[id(scope)] = (scope, result)
        return result


def limit_spans(decoded: Decoded, limits: Limits) -> None:
    """Apply the attribute count to every decoded span, in place; and the value length to
    the texts the decoder left whole, when it measured strings (``decoded.cutter``)."""
    trim = _Trimmer(limits.max_attributes)
    cut = decoded.cutter
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
        if resource_after is not resource:
            span.resource = resource_after  # type: ignore[assignment]
        if span.scope is not scope:
            scope = span.scope
            scope_after = layers.scope(scope)
        if scope_after is not scope:
            span.scope = scope_after  # type: ignore[assignment]
        if cut is not None:
            # Inline length checks: a method call per text cost more than the rest here.
            quick = cut.quick
            if len(span.name) > quick:
                span.name = cut.text(span.name)
            if len(span.status_message) > quick:
                span.status_message = cut.text(span.status_message)
            if len(span.trace_state) > quick:
                span.trace_state = cut.text(span.trace_state)
            for event in span.events:
                if len(event["name"]) > quick:
                    event["name"] = cut.text(event["name"])
            for link in span.links:
                if len(link["trace_state"]) > quick:
                    link["trace_state"] = cut.text(link["trace_state"])
    _report(decoded, trim, cut, limits, "span, event, link, scope or resource")


def limit_logs(decoded: DecodedLogs, limits: Limits) -> None:
    """:func:`limit_spans` for log records."""
    trim = _Trimmer(limits.max_attributes)
    cut = decoded.cutter
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
    _report(decoded, trim, cut, limits, "log record, scope or resource")


def _report(
    decoded: Rejections, trim: _Trimmer, cut: Cutter | None, limits: Limits, holders: str
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
