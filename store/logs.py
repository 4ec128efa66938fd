"""Attaching log records to the spans they belong to, at read time.

GenAI instrumentations send a call's messages as log events beside its span, and the
two travel separately (``store/models/log_record.py``). Joining at read time makes the
result independent of arrival order and of which collector took which request: a
span shows its messages as soon as both are stored, with no write to revisit.

A span's own content wins: records fill only what its attributes and span events left
empty (messages, system instructions, finish reasons, in record order: time, then
arrival), and the display text is rendered from the filled messages by the rules the
normalizer uses (``store/messages.py``). The trace list's input/output and its text
search read the stored rollup, which does not see log content.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from store.messages import render_input, render_output
from store.models import LogRecord, Span


@dataclass(slots=True)
class SpanLogs:
    """The records of one span and the conversation they add up to."""

    records: list[LogRecord] = field(default_factory=list)
    input_messages: list[Any] | None = None
    output_messages: list[Any] | None = None
    system_instructions: str | None = None
    finish_reasons: list[Any] | None = None

    def add(self, record: LogRecord) -> None:
        self.records.append(record)
        if record.input_messages:
            self.input_messages = (self.input_messages or []) + record.input_messages
        if record.output_messages:
            self.output_messages = (self.output_messages or []) + record.output_messages
        if record.finish_reasons:
            self.finish_reasons = (self.finish_reasons or []) + record.finish_reasons
        if record.system_instructions:
            self.system_instructions = "\n\n".join(
                part for part in (self.system_instructions, record.system_instructions) if part
            )


@dataclass(slots=True)
class TraceLogs:
    by_span: dict[str, SpanLogs]
    # Records of the trace whose span id is absent or names no stored span.
    unattached: list[LogRecord]


def trace_logs(
    session: Session, project_id: int, trace_id: str, spans: Sequence[Span]
) -> TraceLogs:
    records = session.scalars(
        sa.select(LogRecord)
        .where(LogRecord.project_id == project_id, LogRecord.trace_id == trace_id)
        .order_by(LogRecord.time_ns, LogRecord.id)
    ).all()
    span_ids = {span.span_id for span in spans}
    by_span: dict[str, SpanLogs] = defaultdict(SpanLogs)
    unattached: list[LogRecord] = []
    for record in records:
        if record.span_id is not None and record.span_id in span_ids:
            by_span[record.span_id].add(record)
        else:
            unattached.append(record)
    return TraceLogs(dict(by_span), unattached)


def span_content(span: Span, logs: SpanLogs | None) -> dict[str, Any]:
    """The span's conversation fields, filled from its log records where it has none."""
    content = {
        "input_messages": span.input_messages,
        "output_messages": span.output_messages,
        "system_instructions": span.system_instructions,
        "finish_reasons": span.finish_reasons,
        "input_text": span.input_text,
        "output_text": span.output_text,
    }
    if logs is None:
        return content
    for key in ("input_messages", "output_messages", "system_instructions", "finish_reasons"):
        if content[key] is None:
            content[key] = getattr(logs, key)
    if content["input_text"] is None:
        content["input_text"] = render_input(content["input_messages"])
    if content["output_text"] is None:
        content["output_text"] = render_output(content["output_messages"])
    return content
