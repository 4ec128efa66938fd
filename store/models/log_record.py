"""Log records: OTLP logs, kept for the GenAI content events they carry.

GenAI instrumentations send prompts and completions as log events (``gen_ai.user.message``,
``gen_ai.choice``, ``gen_ai.client.inference.operation.details``; SEMCONV 2.5) on
``/v1/logs``, correlated with their span by trace and span id. Either may arrive first,
so nothing is copied onto the span at write time: the collector stores each record with
the messages it carries already normalized, and reads join them to their span
(``store/logs.py``). Every record is kept, GenAI or not, so nothing the client sent is
lost.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from store.models.base import Base, IdMixin
from store.types import JSONText


class LogRecord(IdMixin, Base):
    __tablename__ = "log_records"

    project_id: Mapped[int] = mapped_column(sa.ForeignKey("projects.id"))
    # Idempotency key: a digest of the record as received, so a retried export stores
    # nothing twice (log records carry no id of their own).
    record_hash: Mapped[str] = mapped_column(sa.String(32))
    trace_id: Mapped[str | None] = mapped_column(sa.String(32))
    span_id: Mapped[str | None] = mapped_column(sa.String(16))
    time_ns: Mapped[int]
    observed_time_ns: Mapped[int]
    severity_number: Mapped[int] = mapped_column(sa.SmallInteger)
    severity_text: Mapped[str | None] = mapped_column(sa.Text)
    event_name: Mapped[str | None] = mapped_column(sa.Text)
    body: Mapped[Any] = mapped_column(JSONText(), nullable=True)
    attributes: Mapped[dict[str, Any]]
    resource_attributes: Mapped[dict[str, Any]]
    scope_name: Mapped[str | None] = mapped_column(sa.Text)
    scope_version: Mapped[str | None] = mapped_column(sa.Text)
    scope_attributes: Mapped[dict[str, Any]]
    service_name: Mapped[str | None] = mapped_column(sa.Text)
    flags: Mapped[int]
    dropped_attributes_count: Mapped[int] = mapped_column(sa.Integer)

    # What the record says about its span's conversation, normalized like span content.
    input_messages: Mapped[list[Any] | None]
    output_messages: Mapped[list[Any] | None]
    system_instructions: Mapped[str | None] = mapped_column(sa.Text)
    finish_reasons: Mapped[list[Any] | None]

    __table_args__ = (
        sa.Index("uq_log_records_project_id_record_hash", "project_id", "record_hash", unique=True),
        # Serves "the records of this trace" when a trace is read.
        sa.Index("ix_log_records_project_id_trace_id_span_id", "project_id", "trace_id", "span_id"),
    )
