"""Spans: one row per OTel span, canonical columns beside the raw data.

The canonical columns are what the normalizer read from whatever convention the client
used (``collector/normalize/canonical.py`` has one field per column, same names); the
raw attributes, resource, scope, events and links are kept as JSON so nothing the
client sent is lost. Times are integer nanoseconds since the epoch, as on the wire:
exact, cheap to write and to compare.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from store.models.base import Base, IdMixin
from store.models.span_cost import SpanCost

Text = sa.Text()


class Span(IdMixin, Base):
    __tablename__ = "spans"

    project_id: Mapped[int] = mapped_column(sa.ForeignKey("projects.id"))
    trace_id: Mapped[str] = mapped_column(sa.String(32))
    span_id: Mapped[str] = mapped_column(sa.String(16))
    parent_span_id: Mapped[str | None] = mapped_column(sa.String(16))
    name: Mapped[str] = mapped_column(Text)
    otel_kind: Mapped[int] = mapped_column(sa.SmallInteger)
    kind: Mapped[str] = mapped_column(sa.String(16))
    service_name: Mapped[str | None] = mapped_column(Text)
    scope_name: Mapped[str | None] = mapped_column(Text)
    scope_version: Mapped[str | None] = mapped_column(Text)
    start_time_ns: Mapped[int]
    end_time_ns: Mapped[int]
    duration_ns: Mapped[int]
    status: Mapped[str] = mapped_column(sa.String(8))
    status_code: Mapped[int] = mapped_column(sa.SmallInteger)
    status_message: Mapped[str | None] = mapped_column(Text)
    error_type: Mapped[str | None] = mapped_column(Text)
    error_message: Mapped[str | None] = mapped_column(Text)
    trace_state: Mapped[str | None] = mapped_column(Text)
    flags: Mapped[int]

    model: Mapped[str | None] = mapped_column(Text)
    request_model: Mapped[str | None] = mapped_column(Text)
    provider: Mapped[str | None] = mapped_column(Text)
    input_tokens: Mapped[int | None]
    output_tokens: Mapped[int | None]
    total_tokens: Mapped[int | None]
    reasoning_tokens: Mapped[int | None]
    cache_read_tokens: Mapped[int | None]
    cache_write_tokens: Mapped[int | None]
    input_text: Mapped[str | None] = mapped_column(Text)
    output_text: Mapped[str | None] = mapped_column(Text)
    input_messages: Mapped[list[Any] | None]
    output_messages: Mapped[list[Any] | None]
    system_instructions: Mapped[str | None] = mapped_column(Text)
    reasoning_text: Mapped[str | None] = mapped_column(Text)

    tool_name: Mapped[str | None] = mapped_column(Text)
    tool_call_id: Mapped[str | None] = mapped_column(Text)
    tool_arguments: Mapped[str | None] = mapped_column(Text)
    tool_result: Mapped[str | None] = mapped_column(Text)

    agent_name: Mapped[str | None] = mapped_column(Text)
    agent_id: Mapped[str | None] = mapped_column(Text)
    agent_version: Mapped[str | None] = mapped_column(Text)
    session_id: Mapped[str | None] = mapped_column(Text)
    user_id: Mapped[str | None] = mapped_column(Text)
    trace_name: Mapped[str | None] = mapped_column(Text)
    environment: Mapped[str | None] = mapped_column(Text)
    prompt_name: Mapped[str | None] = mapped_column(Text)
    prompt_version: Mapped[str | None] = mapped_column(Text)
    confidence: Mapped[float | None]
    confidence_source: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[str | None] = mapped_column(sa.String(8))  # success | failure
    finish_reasons: Mapped[list[Any] | None]
    conventions: Mapped[list[Any]]
    unmapped: Mapped[list[Any]]

    attributes: Mapped[dict[str, Any]]
    resource_attributes: Mapped[dict[str, Any]]
    scope_attributes: Mapped[dict[str, Any]]
    events: Mapped[list[Any]]
    links: Mapped[list[Any]]
    dropped_attributes_count: Mapped[int] = mapped_column(sa.Integer)
    dropped_events_count: Mapped[int] = mapped_column(sa.Integer)
    dropped_links_count: Mapped[int] = mapped_column(sa.Integer)

    # What the span cost is derived data, kept in ``span_costs`` (store/models/span_cost.py);
    # loaded with the span, in the same query.
    cost: Mapped[SpanCost | None] = relationship(lazy="joined", uselist=False, viewonly=True)

    __table_args__ = (
        # Idempotency key: a client retry of the same batch stores nothing twice. It also
        # serves every "spans of this trace" lookup (rollups, the trace tree).
        sa.Index(
            "uq_spans_project_id_trace_id_span_id", "project_id", "trace_id", "span_id", unique=True
        ),
        # One project's spans in the order stored: the spans export's ranges.
        sa.Index("ix_spans_project_id_id", "project_id", "id"),
        # Model filter and per-model queries touch LLM spans only; the partial index
        # keeps tool and agent spans out of it.
        sa.Index(
            "ix_spans_project_id_model",
            "project_id",
            "model",
            "trace_id",
            sqlite_where=sa.text("model IS NOT NULL"),
            postgresql_where=sa.text("model IS NOT NULL"),
        ),
    )
