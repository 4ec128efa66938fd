"""The conversation a GenAI log event carries, normalized like span content.

Each content event is read by the span normalizer itself: message events
(``gen_ai.user.message``, ``gen_ai.choice``, ...) as the span events older
instrumentations emit, and ``gen_ai.client.inference.operation.details`` as the span
attributes it repeats. So a prompt reads the same whether it came on the span, in a
span event or in a log record, and the rules live in one place (``normalize/``).
"""

from __future__ import annotations

from typing import Any

from collector.log_records import RawLogRecord
from collector.normalize import normalize
from collector.normalize.canonical import Canonical
from collector.normalize.events import (
    CHOICE_EVENT,
    COMPLETION_EVENT,
    MESSAGE_EVENT_ROLES,
    PROMPT_EVENT,
)
from collector.spans import RawSpan

OPERATION_DETAILS_EVENT = "gen_ai.client.inference.operation.details"
_MESSAGE_EVENTS = frozenset((*MESSAGE_EVENT_ROLES, CHOICE_EVENT, PROMPT_EVENT, COMPLETION_EVENT))
_NO_TRACE = "0" * 32
_NO_SPAN = "0" * 16


def log_content(record: RawLogRecord) -> Canonical | None:
    """Messages and system instructions of a GenAI content event; None for other logs."""
    name = record.event_name
    if name == OPERATION_DETAILS_EVENT:
        attributes = dict(record.attributes)
        if type(record.body) is dict:
            attributes.update(record.body)
        events: list[dict[str, Any]] = []
    elif name in _MESSAGE_EVENTS:
        attributes = {}
        events = [
            {
                "name": name,
                "time_unix_nano": record.time_ns,
                # Where the span-event form keeps the log body (normalize/content.py).
                "attributes": {**record.attributes, "body": record.body},
                "dropped_attributes_count": 0,
            }
        ]
    else:
        return None
    carrier = RawSpan(
        trace_id=record.trace_id or _NO_TRACE,
        span_id=record.span_id or _NO_SPAN,
        parent_span_id=None,
        name=name,
        otel_kind=0,
        start_time_ns=record.time_ns,
        end_time_ns=record.time_ns,
        attributes=attributes,
        resource=record.resource,
        scope=record.scope,
        events=events,
    )
    canonical = normalize(carrier)
    if (
        canonical.input_messages is None
        and canonical.output_messages is None
        and canonical.system_instructions is None
    ):
        return None
    return canonical
