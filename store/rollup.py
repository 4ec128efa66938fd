"""Trace rollups, recomputed from the spans of the traces a write touched.

Recomputing (rather than adding increments) makes the rollup independent of arrival
order and of duplicates: whatever spans of a trace are stored, the row says the same.
One INSERT ... SELECT ... ON CONFLICT DO UPDATE per project per write, in the write's
transaction; the cost is one indexed read of the touched traces' spans. On SQLite a
trace that arrived whole in one request takes the rollup its decode worker worked out
from the same rows (``store/rollup_rows.py``), and only the others are recomputed here.
"""

from __future__ import annotations

from collections.abc import Collection
from functools import cache

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection

from store import dialect
from store.batch import ROLLUP_COLUMNS
from store.models import Span, SpanCost, Trace
from store.models.span_cost import cost_of_span
from store.vocabulary import USAGE_KINDS, SpanKind, Status

spans = Span.__table__
span_costs = SpanCost.__table__
traces = Trace.__table__

# A trace is *escalated* when one of its tool calls is named like a hand-over to a
# person: escalate_to_human, handoff_to_agent_desk, ask_human, request_human_review...
# (LIKE patterns on the lower-cased tool name, or the span name when the call names no
# tool). Counted in the rollup so that escalation rates are a column sum, not a span
# search. Revision 0004 backfilled stored traces with the same patterns.
ESCALATION_TOOL_PATTERNS = ("%escalat%", "%handoff%", "%hand_off%", "%human%")


def refresh_rollups(connection: Connection, project_id: int, trace_ids: Collection[str]) -> None:
    if not trace_ids:
        return
    ordered = sorted(trace_ids)
    params = {"project_id": project_id, "trace_ids": ordered}
    if connection.dialect.name != "postgresql":
        connection.execute(_rollup_insert(connection.dialect.name), params)
        return
    _lock_traces(connection, project_id, ordered)
    recounted = set(connection.execute(_rollup_insert("postgresql"), params).scalars())
    if len(recounted) < len(ordered):
        # No span of the trace to count: retention deleted them as this batch offered
        # spans already stored. Its placeholder goes; a real rollup has a span.
        connection.execute(
            sa.delete(traces).where(
                traces.c.project_id == project_id,
                traces.c.trace_id.in_([t for t in ordered if t not in recounted]),
                traces.c.span_count == 0,
            )
        )


def _lock_traces(connection: Connection, project_id: int, ordered: list[str]) -> None:
    """Hold the touched traces' rows, so the recount below sees every committed span.

    Two collectors on one PostgreSQL may commit spans of one trace at the same moment.
    Under READ COMMITTED each recount reads a snapshot taken as it starts, without the
    other's uncommitted spans, and the later upsert, having waited for the earlier,
    wrote its stale count over it: 20% of traces split across two collectors kept a
    wrong rollup (tests/test_scale_out.py). So the rows are locked first, a missing one
    inserted as a placeholder (overwritten by the recount in this transaction, or
    deleted when there is nothing to count, so never seen),
    in trace id order so that two writers cannot deadlock; the recount then starts
    after any writer that held them has committed. Row locks, not advisory locks:
    those fill PostgreSQL's shared lock table (a batch can touch 20,000 traces).
    SQLite needs none of this: a transaction writes with the file's one write lock.
    """
    params = {"project_id": project_id, "ids": ordered}
    connection.execute(_PLACEHOLDERS, params)
    connection.execute(_LOCK, params)


_ids = (
    sa.func.unnest(sa.bindparam("ids", type_=postgresql.ARRAY(sa.String)))
    .table_valued("trace_id")
    .render_derived()
)
# Every NOT NULL column without a default, as zero (status "ok"): a row the recount
# replaces whole.
_PLACEHOLDER_VALUES = {
    column.name: Status.OK.value if column.name == "status" else 0
    for column in traces.c
    if not column.nullable
    and column.server_default is None
    and not column.primary_key
    and column.name not in ("project_id", "trace_id")
}
_PLACEHOLDERS = (
    postgresql.insert(traces)
    .from_select(
        ["project_id", "trace_id", *_PLACEHOLDER_VALUES],
        sa.select(
            sa.bindparam("project_id", type_=sa.Integer),
            _ids.c.trace_id,
            *(sa.literal_column(repr(value)) for value in _PLACEHOLDER_VALUES.values()),
        ).order_by(_ids.c.trace_id),
    )
    .on_conflict_do_nothing(index_elements=["project_id", "trace_id"])
)
_LOCK = (
    sa.select(traces.c.id)
    .where(
        traces.c.project_id == sa.bindparam("project_id"),
        traces.c.trace_id == sa.any_(sa.bindparam("ids", type_=postgresql.ARRAY(sa.String))),
    )
    .order_by(traces.c.trace_id)
    .with_for_update()
)


@cache
def _rollup_insert(dialect_name: str) -> sa.Executable:
    """Built once per dialect: constructing this statement costs more than running it."""
    project_id = sa.bindparam("project_id")
    trace_ids = sa.bindparam("trace_ids", expanding=True)
    s, c = spans.c, span_costs.c
    touched = (
        # Small columns only: the head span's text is joined in for one row per trace.
        sa.select(
            s.project_id,
            s.trace_id,
            s.span_id,
            s.parent_span_id,
            s.kind,
            s.start_time_ns,
            s.end_time_ns,
            s.status,
            s.agent_name,
            s.agent_version,
            s.session_id,
            s.user_id,
            s.environment,
            s.trace_name,
            s.name,
            s.tool_name,
            s.input_tokens,
            s.output_tokens,
            s.reasoning_tokens,
            s.cache_read_tokens,
            s.cache_write_tokens,
            s.outcome,
            c.counted,
            c.cost_usd,
            c.cost_source,
        )
        .select_from(spans.outerjoin(span_costs, cost_of_span(s)))
        .where(s.project_id == project_id, s.trace_id.in_(trace_ids))
        .cte("touched")
        .prefix_with("MATERIALIZED")
    )
    t = touched.c
    uses_tokens = t.kind.in_([kind.value for kind in USAGE_KINDS])

    def usage_sum(column: sa.ColumnElement[int]) -> sa.ColumnElement[int]:
        return sa.func.coalesce(sa.func.sum(sa.case((uses_tokens, column), else_=0)), 0)

    def count_where(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
        return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)

    called = sa.func.lower(sa.func.coalesce(t.tool_name, t.name))
    escalation = sa.and_(
        t.kind == SpanKind.TOOL.value,
        sa.or_(*(called.like(pattern) for pattern in ESCALATION_TOOL_PATTERNS)),
    )

    key = (t.project_id, t.trace_id)
    aggregate = (
        sa.select(
            *key,
            sa.func.count().label("span_count"),
            count_where(t.kind == SpanKind.LLM.value).label("llm_call_count"),
            count_where(t.kind == SpanKind.TOOL.value).label("tool_call_count"),
            count_where(t.status == Status.ERROR.value).label("error_count"),
            # A comparison, so a boolean on PostgreSQL and 0/1 on SQLite.
            (count_where(escalation) > 0).label("escalated"),
            count_where(t.outcome == "failure").label("failures"),
            count_where(t.outcome == "success").label("successes"),
            usage_sum(t.input_tokens).label("input_tokens"),
            usage_sum(t.output_tokens).label("output_tokens"),
            usage_sum(t.reasoning_tokens).label("reasoning_tokens"),
            usage_sum(t.cache_read_tokens).label("cache_read_tokens"),
            usage_sum(t.cache_write_tokens).label("cache_write_tokens"),
            # NULL when no model call has a cost: unknown is not $0.
            sa.func.sum(sa.case((t.counted, t.cost_usd))).label("cost_usd"),
            count_where(sa.and_(t.counted, t.cost_source == "unpriced")).label("unpriced_count"),
            sa.func.min(t.start_time_ns).label("start_time_ns"),
            sa.func.max(t.end_time_ns).label("end_time_ns"),
            # Trace-level fields found on any span apply to the whole trace.
            sa.func.max(t.session_id).label("session_id"),
            sa.func.max(t.user_id).label("user_id"),
            sa.func.max(t.environment).label("environment"),
            sa.func.max(t.trace_name).label("trace_name"),
            sa.func.max(t.agent_version).label("any_agent_version"),
        )
        .group_by(*key)
        .cte("aggregate")
    )
    # The head span names the trace: the root (no parent) once it has arrived, else
    # the earliest span, so a trace whose root comes last still reads sensibly.
    head = sa.select(
        *key,
        t.span_id,
        t.parent_span_id,
        t.status,
        sa.func.row_number()
        .over(
            partition_by=key,
            order_by=(
                sa.case((t.parent_span_id.is_(None), 0), else_=1),
                t.start_time_ns,
                t.span_id,
            ),
        )
        .label("rank"),
    ).cte("head")
    # The trace's agent: the outermost agent span's, else any span's that names one.
    agent = (
        sa.select(
            *key,
            t.agent_name,
            t.agent_version,
            sa.func.row_number()
            .over(
                partition_by=key,
                order_by=(
                    sa.case((t.kind == SpanKind.AGENT.value, 0), else_=1),
                    t.start_time_ns,
                    t.span_id,
                ),
            )
            .label("rank"),
        )
        .where(t.agent_name.is_not(None))
        .cte("agent")
    )
    a, h, g = aggregate.c, head.c, agent.c
    head_span = spans.alias("head_span")
    root_arrived = h.parent_span_id.is_(None)
    rollup = (
        sa.select(
            a.project_id,
            a.trace_id,
            sa.case((root_arrived, h.span_id)).label("root_span_id"),
            sa.func.coalesce(a.trace_name, head_span.c.name).label("name"),
            head_span.c.service_name,
            g.agent_name,
            sa.func.coalesce(g.agent_version, a.any_agent_version).label("agent_version"),
            a.session_id,
            a.user_id,
            a.environment,
            a.start_time_ns,
            a.end_time_ns,
            sa.case(
                (a.end_time_ns > a.start_time_ns, a.end_time_ns - a.start_time_ns), else_=0
            ).label("duration_ns"),
            sa.case(
                (root_arrived, h.status),
                (a.error_count > 0, Status.ERROR.value),
                else_=Status.OK.value,
            ).label("status"),
            a.error_count,
            # One span's failure fails the task, whatever the others said.
            sa.case((a.failures > 0, "failure"), (a.successes > 0, "success")).label("outcome"),
            a.escalated,
            a.span_count,
            a.llm_call_count,
            a.tool_call_count,
            a.input_tokens,
            a.output_tokens,
            a.reasoning_tokens,
            a.cache_read_tokens,
            a.cache_write_tokens,
            a.cost_usd,
            a.unpriced_count,
            head_span.c.input_text.label("input"),
            head_span.c.output_text.label("output"),
        )
        .select_from(
            aggregate.join(head, sa.and_(h.project_id == a.project_id, h.trace_id == a.trace_id))
            .join(
                head_span,
                sa.and_(
                    head_span.c.project_id == h.project_id,
                    head_span.c.trace_id == h.trace_id,
                    head_span.c.span_id == h.span_id,
                ),
            )
            .outerjoin(
                agent,
                sa.and_(g.project_id == a.project_id, g.trace_id == a.trace_id, g.rank == 1),
            )
        )
        # In WHERE, not in the join: SQLite's upsert grammar needs the SELECT to end in a
        # WHERE clause so that ON CONFLICT is not read as a join constraint.
        .where(h.rank == 1)
    )
    columns = [column.name for column in rollup.selected_columns]
    if tuple(columns) != ("project_id", "trace_id", *ROLLUP_COLUMNS):
        raise RuntimeError("store/batch.py's ROLLUP_COLUMNS differ from the SQL rollup's")
    insert = dialect.insert_for(dialect_name, traces).from_select(columns, rollup)
    upsert = insert.on_conflict_do_update(
        index_elements=["project_id", "trace_id"],
        set_={
            name: insert.excluded[name]
            for name in columns
            if name not in ("project_id", "trace_id")
        },
    )
    # PostgreSQL: which traces were recounted, so a placeholder left behind is seen.
    return upsert.returning(traces.c.trace_id) if dialect_name == "postgresql" else upsert
