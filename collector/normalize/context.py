"""Per-span working state shared by the rule tables while one span is normalized.

It holds what the single pass over the attributes found (:mod:`.scan`), the span kind
once decided, and memoised decodings, so that a JSON attribute read by three fields is
parsed once and an indexed family is unflattened once.
"""

from __future__ import annotations

from typing import Any

from collector.normalize.canonical import Message
from collector.normalize.events import EventSummary
from collector.normalize.unflatten import unflatten
from collector.normalize.values import parse_json
from collector.spans import RawSpan
from store.vocabulary import SpanKind


class Context:
    """What the rules may read about one span. Built by the normalizer, never by rules."""

    __slots__ = (
        "_json",
        "_lists",
        "events",
        "families",
        "finish_reasons",
        "found",
        "input_messages",
        "kind",
        "output_messages",
        "span",
    )

    def __init__(
        self,
        span: RawSpan,
        found: dict[str, Any],
        families: dict[str, list[str]],
        events: EventSummary,
    ) -> None:
        self.span = span
        # Known keys only, span attributes over scope over resource (SEMCONV 6.0.1).
        self.found = found
        # Indexed family name -> the span keys that belong to it, in arrival order.
        self.families = families
        self.events = events
        self.kind = SpanKind.OTHER
        self.input_messages: list[Message] | None = None
        self.output_messages: list[Message] | None = None
        # finish_reason values met while parsing output messages (the last fallback).
        self.finish_reasons: list[str] = []
        self._json: dict[str, Any] = {}
        self._lists: dict[str, list[Any]] = {}

    def json(self, key: str) -> Any:
        """The value of known attribute ``key``, JSON-decoded when it is a JSON string."""
        try:
            return self._json[key]
        except KeyError:
            value = self._json[key] = parse_json(self.found.get(key))
            return value

    def family(self, name: str) -> list[Any]:
        """The indexed family ``name`` (e.g. ``llm.input_messages``) as a list, or ``[]``."""
        try:
            return self._lists[name]
        except KeyError:
            keys = self.families.get(name)
            items = unflatten(self.span.attributes, name, keys) if keys else []
            self._lists[name] = items
            return items
