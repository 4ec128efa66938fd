"""Traces: one rollup row per trace, kept right by the writer in the span's transaction.

Every column is derived from the trace's spans (``store/rollup.py``), so the rollup is
the same whatever order the spans arrive in, and can always be rebuilt.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from store.models.base import Base, IdMixin
from store.models.span import Span

Text = sa.Text()


# The trace list's walks check these filters in the index: the row id first, so that
# the walk's key and the id are the list's whole order.
_AGENT_FILTER = ("id", "agent_name", "agent_version")
_TIME_WALK = ("project_id", "start_time_ns", *_AGENT_FILTER, "duration_ns", "cost_usd")


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
    # What the agent said of its task (reasonlens.outcome on any span): "failure" when a
    # span says so, else "success" when one says that; null when none says.
    outcome: Mapped[str | None] = mapped_column(sa.String(8))
    # A tool call handed the run to a person (store.rollup.ESCALATION_TOOL_PATTERNS).
    escalated: Mapped[bool] = mapped_column(server_default=sa.false())
    span_count: Mapped[int]
    llm_call_count: Mapped[int]
    tool_call_count: Mapped[int]
    # Usage sums LLM and embedding spans only (store.vocabulary.USAGE_KINDS).
    input_tokens: Mapped[int]
    output_tokens: Mapped[int]
    reasoning_tokens: Mapped[int]
    cache_read_tokens: Mapped[int]
    cache_write_tokens: Mapped[int]
    # Null when no model call has a cost: unknown is not $0. unpriced_count counts the
    # calls with usage but no price, which the cost leaves out and the pages show.
    cost_usd: Mapped[float | None]
    unpriced_count: Mapped[int] = mapped_column(server_default=sa.text("0"))
    input: Mapped[str | None] = mapped_column(Text)
    output: Mapped[str | None] = mapped_column(Text)

    @classmethod
    def cost_sort_key(cls) -> sa.ColumnElement[float]:
        """Cost with unpriced traces (NULL) below every priced one, as indexed.

        The -1 is rendered inline so that the expression matches the index's exactly
        (a bound parameter would not, and the sort would scan every trace).
        """
        return sa.func.coalesce(cls.cost_usd, sa.literal_column("-1.0"))

    @classmethod
    def tokens_sort_key(cls) -> sa.ColumnElement[int]:
        """Input plus output tokens, as indexed."""
        return cls.input_tokens + cls.output_tokens

    __table_args__ = (
        # A unique index rather than a constraint: SQLite names it like PostgreSQL does.
        sa.Index("uq_traces_project_id_trace_id", "project_id", "trace_id", unique=True),
        sa.Index("ix_traces_start_time_ns", "start_time_ns"),
        # The list's walk, newest first (time, then id, is its whole order), carrying the
        # columns of the filters SQLite cannot estimate: a trace that fails them is
        # passed over in the index, its row never read (revision 0017).
        sa.Index("ix_traces_project_time_filters", *_TIME_WALK),
        sa.Index("ix_traces_project_id_span_count", "project_id", "span_count"),
        sa.Index(
            "ix_traces_project_id_status_start_time_ns", "project_id", "status", "start_time_ns"
        ),
        sa.Index(
            "ix_traces_project_id_session_id_start_time_ns",
            "project_id",
            "session_id",
            "start_time_ns",
        ),
        # The duration and cost sorts carry the agent filter's columns (revision 0017).
        sa.Index("ix_traces_project_id_duration_ns", "project_id", "duration_ns", *_AGENT_FILTER),
        sa.Index(
            "ix_traces_project_id_service_name_start_time_ns",
            "project_id",
            "service_name",
            "start_time_ns",
        ),
    )


# "Most expensive first" and cost ranges on a large project read this index.
sa.Index("ix_traces_project_id_cost_sort", Trace.project_id, Trace.cost_sort_key(), *_AGENT_FILTER)
sa.Index("ix_traces_project_id_tokens_sort", Trace.project_id, Trace.tokens_sort_key())

# The dashboard's aggregates (store/analytics.py) read only these indexes, never the rows:
# a trace row carries the root's input and output text, and rewritten rollups scatter
# across the file, so at 160,000 traces a scan of the rows took 1.3 s where this index
# answers in under 100 ms. Agent and version lead so that each agent version's traces
# over a window are one contiguous range (it is also the agent filter's index); trace_id
# joins a cohort to its spans.
sa.Index(
    "ix_traces_analytics",
    Trace.project_id,
    Trace.agent_name,
    Trace.agent_version,
    Trace.start_time_ns,
    Trace.status,
    Trace.outcome,
    Trace.escalated,
    Trace.duration_ns,
    Trace.cost_usd,
    Trace.unpriced_count,
    Trace.input_tokens,
    Trace.output_tokens,
    Trace.llm_call_count,
    Trace.tool_call_count,
    Trace.trace_id,
)

# Span indexes that serve the trace analytics (declared beside them): partial, so they
# hold tool calls or model calls only, and covering, so mixes never read span rows
# (~2 KB each with their messages). SQLite counts a partial index as covering only if it
# holds every column the query names, hence the trailing ``kind``: the tool condition's,
# and the model mix's (agent spans repeat their model calls' model; only LLM and
# embedding calls count). By trace: a cohort's tool and model mix.
TOOL_SPANS = sa.text("kind = 'tool'")
MODEL_SPANS = sa.text("model IS NOT NULL")
sa.Index(
    "ix_spans_tool_calls",
    Span.project_id,
    Span.trace_id,
    Span.tool_name,
    Span.status,
    Span.kind,
    sqlite_where=TOOL_SPANS,
    postgresql_where=TOOL_SPANS,
)
sa.Index(
    "ix_spans_model_calls",
    Span.project_id,
    Span.trace_id,
    Span.model,
    Span.status,
    Span.kind,
    sqlite_where=MODEL_SPANS,
    postgresql_where=MODEL_SPANS,
)
# The overview's failing tools: failed calls in a window, from an index of failed tool
# calls only (a few percent of them, so it costs ingest next to nothing); then the calls
# of the ten that failed most, one range of the tool-and-time index each.
FAILED_TOOL_SPANS = sa.text("kind = 'tool' AND status = 'error'")
sa.Index(
    "ix_spans_tool_name_start_time_ns",
    Span.project_id,
    Span.tool_name,
    Span.start_time_ns,
    Span.kind,
    sqlite_where=TOOL_SPANS,
    postgresql_where=TOOL_SPANS,
)
sa.Index(
    "ix_spans_failed_tool_calls",
    Span.project_id,
    Span.start_time_ns,
    Span.tool_name,
    Span.kind,
    Span.status,
    sqlite_where=FAILED_TOOL_SPANS,
    postgresql_where=FAILED_TOOL_SPANS,
)
