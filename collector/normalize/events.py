"""One pass over a span's events, keeping the few the rules read.

Errors arrive as an ``exception`` event; older GenAI instrumentations put message
content in span events (``gen_ai.user.message``, ``gen_ai.choice``, the v1.27
``gen_ai.content.prompt``; SEMCONV 2.5); evaluations as ``gen_ai.evaluation.result``.
Most spans have no events, so that case allocates nothing.
"""

from __future__ import annotations

from typing import Any

from collector.normalize import signals
from collector.normalize.conventions import OPENLIT, OTEL_GENAI, OTEL_GENAI_DEPRECATED

# Legacy per-message events and the role each one implies when the event omits it.
MESSAGE_EVENT_ROLES: dict[str, str] = {
    "gen_ai.system.message": "system",
    "gen_ai.user.message": "user",
    "gen_ai.assistant.message": "assistant",
    "gen_ai.tool.message": "tool",
    "gen_ai.tools.message": "tool",
}
CHOICE_EVENT = "gen_ai.choice"
PROMPT_EVENT = "gen_ai.content.prompt"
COMPLETION_EVENT = "gen_ai.content.completion"
EVALUATION_EVENT = "gen_ai.evaluation.result"
EXCEPTION_EVENT = "exception"

EVENT_CONVENTIONS: dict[str, str] = {
    "gen_ai.system.message": OTEL_GENAI_DEPRECATED,
    "gen_ai.user.message": OTEL_GENAI_DEPRECATED,
    "gen_ai.assistant.message": OTEL_GENAI_DEPRECATED,
    "gen_ai.tool.message": OTEL_GENAI_DEPRECATED,
    "gen_ai.tools.message": OPENLIT,
    CHOICE_EVENT: OTEL_GENAI_DEPRECATED,
    PROMPT_EVENT: OTEL_GENAI_DEPRECATED,
    COMPLETION_EVENT: OTEL_GENAI_DEPRECATED,
    EVALUATION_EVENT: OTEL_GENAI,
}


class EventSummary:
    """The events the rules read, each as its attribute dict."""

    __slots__ = (
        "choices",
        "completion",
        "conventions",
        "evaluation",
        "exception",
        "messages",
        "prompt",
    )

    def __init__(self) -> None:
        self.exception: dict[str, Any] | None = None
        # (role implied by the event name, attributes) in arrival order.
        self.messages: list[tuple[str, dict[str, Any]]] = []
        self.choices: list[dict[str, Any]] = []
        self.prompt: dict[str, Any] | None = None
        self.completion: dict[str, Any] | None = None
        self.evaluation: dict[str, Any] | None = None
        self.conventions: set[str] = set()

    def signals(self) -> list[str]:
        """The :mod:`.signals` for the event groups this span has."""
        present: list[str] = []
        if self is EMPTY:
            return present
        if self.exception is not None:
            present.append(signals.EXCEPTION_EVENT)
        if self.messages:
            present.append(signals.MESSAGE_EVENTS)
        if self.choices:
            present.append(signals.CHOICE_EVENTS)
        if self.prompt:
            present.append(signals.PROMPT_EVENT)
        if self.completion:
            present.append(signals.COMPLETION_EVENT)
        if self.evaluation is not None:
            present.append(signals.EVALUATION_EVENT)
        return present


EMPTY = EventSummary()


def summarize(events: Any) -> EventSummary:
    """Collect the events the rules read; malformed entries are skipped, never raised on."""
    if not events or type(events) is not list:
        return EMPTY
    summary = EventSummary()
    for event in events:
        if type(event) is not dict:
            continue
        name = event.get("name")
        if type(name) is not str:
            continue
        attributes = event.get("attributes")
        if type(attributes) is not dict:
            attributes = {}
        if name == EXCEPTION_EVENT:
            if summary.exception is None:
                summary.exception = attributes
            continue
        convention = EVENT_CONVENTIONS.get(name)
        if convention is None:
            continue
        summary.conventions.add(convention)
        role = MESSAGE_EVENT_ROLES.get(name)
        if role is not None:
            summary.messages.append((role, attributes))
        elif name == CHOICE_EVENT:
            summary.choices.append(attributes)
        elif name == PROMPT_EVENT:
            summary.prompt = summary.prompt or attributes
        elif name == COMPLETION_EVENT:
            summary.completion = summary.completion or attributes
        elif name == EVALUATION_EVENT and summary.evaluation is None:
            summary.evaluation = attributes
    return summary
