"""Redaction applied to everything a request stores, before anything reads it.

:class:`Scrub` masks a span as decoded (name, attribute values at any depth, events,
link attributes, status message, trace state, resource and scope) or a log record
(body, attributes, texts), and only then do the normalizer, pricing and the agent-score
reader see it: every canonical column (input and output text, messages, tool
arguments and results, errors) is made from masked text, which is scanned once. A mask
keeps the JSON it sits in readable: it holds no quote or backslash, and no preset match
takes a quote or part of an escape (an email's local part takes its \\u escapes
whole, and a number after a \\n is a number). Attribute keys, ids, numbers and
project names are not masked.

Nothing is changed in place: the normalizer's caches hold resource and scope dicts they
have read, so a masked value makes a new container (copy on write).
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache
from typing import Any

from collector.log_records import RawLogRecord
from collector.redact import SHORT, SHORT_CACHE_LIMIT, Pattern, Redactor
from collector.spans import RawSpan, Resource, Scope


@lru_cache(maxsize=4)
def redactor_for(patterns: tuple[Pattern, ...]) -> Redactor | None:
    """One redactor per process and configuration (it remembers short strings)."""
    return Redactor(patterns) if patterns else None


class Scrub:
    """The redaction of one request: shared resources and scopes are masked once."""

    __slots__ = ("_done", "_redact", "_short")

    def __init__(self, redactor: Redactor) -> None:
        self._redact = redactor.redact
        self._short = redactor.short  # short texts' results, kept by the redactor
        # id -> (the original, kept alive so that its id stays its own; the result)
        self._done: dict[int, tuple[Any, Any]] = {}

    def _text(self, text: str) -> str:
        """:meth:`Redactor.text`, inlined: it runs for every string of every span."""
        if len(text) > SHORT:
            return self._redact(text)
        done = self._short.get(text)
        if done is None:
            done = self._redact(text)
            if len(self._short) >= SHORT_CACHE_LIMIT:
                self._short.clear()
            self._short[text] = done
        return done

    def value(self, value: Any) -> Any:
        """``value`` with its strings masked: the same object when nothing was. Strings
        in a list or dict are done in the loop (most attribute values are strings)."""
        kind = type(value)
        if kind is str:
            return self._text(value)
        if kind is list:
            copy: list[Any] | None = None
            for index, item in enumerate(value):
                new = self._text(item) if type(item) is str else self.value(item)
                if new is not item:
                    if copy is None:
                        copy = list(value)
                    copy[index] = new
            return value if copy is None else copy
        if kind is dict:
            masked: dict[Any, Any] | None = None
            for key, item in value.items():
                new = self._text(item) if type(item) is str else self.value(item)
                if new is not item:
                    if masked is None:
                        masked = dict(value)
                    masked[key] = new
            return value if masked is None else masked
        return value

    def span(self, span: RawSpan) -> RawSpan:
        text = self._text
        changes: dict[str, Any] = {}
        for name, new, old in (
            ("name", text(span.name), span.name),
            ("status_message", text(span.status_message), span.status_message),
            ("trace_state", text(span.trace_state), span.trace_state),
            ("attributes", self.value(span.attributes), span.attributes),
            ("events", self.value(span.events), span.events),  # names, times, attributes
            ("links", self._links(span.links), span.links),
            ("resource", self.resource(span.resource), span.resource),
            ("scope", self.scope(span.scope), span.scope),
        ):
            if new is not old:
                changes[name] = new
        return replace(span, **changes) if changes else span

    def _links(self, links: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Link attributes and trace state; never the ids (a digit-only span id can
        look like a card number)."""
        if not links:
            return links
        masked = [
            {
                **link,
                "attributes": self.value(link["attributes"]),
                "trace_state": self._text(link["trace_state"]),
            }
            for link in links
        ]
        changed = any(
            new["attributes"] is not old["attributes"]
            or new["trace_state"] is not old["trace_state"]
            for new, old in zip(masked, links, strict=True)
        )
        return masked if changed else links

    def resource(self, resource: Resource) -> Resource:
        done = self._done.get(id(resource))
        if done is None:
            attributes = self.value(resource.attributes)
            result = resource
            if attributes is not resource.attributes:
                result = replace(resource, attributes=attributes)
            done = self._done[id(resource)] = (resource, result)
        return done[1]  # type: ignore[no-any-return]

    def scope(self, scope: Scope) -> Scope:
        done = self._done.get(id(scope))
        if done is None:
            name, version = self._text(scope.name), self._text(scope.version)
            attributes = self.value(scope.attributes)
            result = scope
            if (
                name is not scope.name
                or version is not scope.version
                or (attributes is not scope.attributes)
            ):
                result = Scope(name, version, attributes)
            done = self._done[id(scope)] = (scope, result)
        return done[1]  # type: ignore[no-any-return]

    def record(self, record: RawLogRecord) -> RawLogRecord:
        text = self._text
        return replace(
            record,
            severity_text=text(record.severity_text),
            event_name=text(record.event_name),
            body=self.value(record.body),
            attributes=self.value(record.attributes),
            resource=self.resource(record.resource),
            scope=self.scope(record.scope),
        )
