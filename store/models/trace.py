"""Traces: one rollup row per trace, kept right by the writer in the span's transaction.

Every column is derived from the trace's spans (``store/rollup.py``), so the rollup is
the same whatever order the spans arrive in, and can always be rebuilt.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from store.models.base import Base, IdMixin

Text = sa.Text()


class Trace(IdMixin, Base):
    __tablename__ = "traces"

    project_id: Mapped[int] = mapped_column(sa.ForeignKey("projects.id"))
    trace_id: Mapped[str] = mapped_column(sa.String(32))
    # The root span (no parent); null until it arrives. ``name``, ``input`` and
    # ``output`` fall back to the earliest span meanwhile.
    root_span_id: Mapped[str | None] = mapped_column(sa.String(16))
    name: Mapped[str | None] = mapped_column(Text)
    service_name: Mapped[str | None] = mapped_column(Text)
    agent_name: Mapped[str | None] = mapped_column(Text)
    agent_version: Mapped[str | None] = mapped_column(Text)
    session_id: Mapped[str | None] = mapped_column(Text)
    user_id: Mapped[str | None] = mapped_column(Text)
    environment: Mapped[str | None] = mapped_column(Text)
    start_time_ns: Mapped[int]
    end_time_ns: Mapped[int]
    duration_ns: Mapped[int]
    # The root span's status once it has arrived; before that, error if any span failed.
    status: Mapped[str] = mapped_column(sa.String(8))
    error_count: Mapped[int]
    span_count: Mapped[int]
    llm_call_count: Mapped[int]
    tool_call_count: Mapped[int]
    # Usage sums LLM and embedding spans only (store.vocabulary.USAGE_KINDS).
    input_tokens: Mapped[int]
    output_tokens: Mapped[int]
    reasoning_tokens: Mapped[int]
    cache_read_tokens: Mapped[int]
    cache_write_tokens: Mapped[int]
    # Null when no span reported a cost: unknown is not $0.
    cost_usd: Mapped[float | None]
    input: Mapped[str | None] = mapped_column(Text)
    output: Mapped[str | None] = mapped_column(Text)

    @classmethod
    def cost_sort_key(cls) -> sa.ColumnElement[float]:
        """Cost with unpriced traces (NULL) below every priced one, as indexed.

        The -1 is rendered inline so that the expression matches the index's exactly
        (a bound parameter would not, and the sort would scan every trace).
        """
        return sa.func.coalesce(cls.cost_usd, sa.literal_column("-1.0"))

    __table_args__ = (
        # A unique index rather than a constraint: SQLite names it like PostgreSQL does.
        sa.Index("uq_traces_project_id_trace_id", "project_id", "trace_id", unique=True),
        sa.Index("ix_traces_start_time_ns", "start_time_ns"),
        sa.Index("ix_traces_project_id_start_time_ns", "project_id", "start_time_ns"),
        sa.Index(
            "ix_traces_project_id_agent_name_agent_version_start_time_ns",
            "project_id",
            "agent_name",
            "agent_version",
            "start_time_ns",
        ),
        sa.Index(
            "ix_traces_project_id_status_start_time_ns", "project_id", "status", "start_time_ns"
        ),
        sa.Index(
            "ix_traces_project_id_session_id_start_time_ns",
            "project_id",
            "session_id",
            "start_time_ns",
        ),
        sa.Index("ix_traces_project_id_duration_ns", "project_id", "duration_ns"),
        sa.Index(
            "ix_traces_project_id_service_name_start_time_ns",
            "project_id",
            "service_name",
            "start_time_ns",
        ),
    )


# "Most expensive first" and cost ranges on a large project read this index.
sa.Index("ix_traces_project_id_cost_sort", Trace.project_id, Trace.cost_sort_key())
