"""Aggregates over trace rollups: the overview's health over time and the compare page's
cohorts, on SQLite and PostgreSQL.

Everything that adds up (counts, errors, escalations, cost, tokens, calls) is summed in
SQL and folded in Python. Latency percentiles do not add up: PostgreSQL computes them
with ``percentile_cont``; SQLite has none, so there the durations are fetched (through
the DBAPI cursor: two small integers a trace) and numpy interpolates the same way.

What keeps a page fast at 1,000,000 spans (figures on a 2-core VM, 160,000 traces in the
day): every statement reads an index that covers it, never a table's rows (a trace row
carries its root's text; a span row its messages). Revision 0004 adds them:
``ix_traces_analytics`` (project, agent, version, start, then every figure and the trace
id), and partial indexes of tool and model calls keyed by trace (the mixes) or by time
(failing tools). On SQLite each agent version's window is one range of the first, so
statements go one agent version at a time (:func:`_slices`); PostgreSQL hash-aggregates
the window in one. Independent statements run on two threads (:func:`_beside`).

Definitions the pages state:

- *escalated*: the trace called a tool whose name says it hands over to a person
  (``store.rollup.ESCALATION_TOOL_PATTERNS``); a rollup column, so counting costs nothing.
- *steps*: LLM calls plus tool calls (agent and chain spans are wrappers, not steps).
- *cost per trace*: the mean over traces that reported a cost (unknown is not $0);
  *cost per successful trace*: all known cost divided by the traces that succeeded, i.e.
  what one success really costs, the failures' spend included.
- *tool mix*, *model mix*: tool calls by tool name; LLM and embedding calls by the model
  that served them (agent spans, which repeat their calls' model, are not counted).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.orm import Session

from store.models import Project, Span, Trace
from store.queries import TraceFilter, filter_conditions
from store.vocabulary import USAGE_KINDS, SpanKind, Status

NS_PER_MS = 1_000_000
QUANTILES = (0.5, 0.95)
TOP = 10

T = TypeVar("T")
Condition = sa.ColumnElement[bool]
GroupKey = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Window:
    """Trace start times from ``since_ns`` to ``until_ns`` (both inclusive, like the
    ``since``/``until`` filters), cut into buckets of ``bucket_ns`` from ``since_ns``."""

    since_ns: int
    until_ns: int
    bucket_ns: int

    @property
    def buckets(self) -> int:
        """Whole buckets from ``since``; the ``until`` instant itself counts in the last
        (so 06:00 to 07:00 is twelve 5-minute buckets, not twelve and a nanosecond)."""
        return max(1, -(-(self.until_ns - self.since_ns) // self.bucket_ns))

    @property
    def bucket_minutes(self) -> int:
        return self.bucket_ns // _MINUTE

    def bucket_starts(self) -> list[int]:
        return [self.since_ns + i * self.bucket_ns for i in range(self.buckets)]

    def bucket_bounds(self) -> list[tuple[int, int]]:
        """Each bucket's first and last nanosecond (the last bucket ends with the window)."""
        starts = self.bucket_starts()
        ends = [start - 1 for start in starts[1:]] + [self.until_ns]
        return list(zip(starts, ends, strict=True))


# Bucket sizes a window is cut into: the smallest that keeps a chart under MAX_BUCKETS.
_MINUTE = 60 * 1_000_000_000
BUCKET_SIZES_NS = tuple(
    minutes * _MINUTE for minutes in (1, 5, 15, 30, 60, 180, 360, 720, 1440, 10080)
)
MAX_BUCKETS = 30


def bucket_size(span_ns: int) -> int:
    for size in BUCKET_SIZES_NS:
        if span_ns / size <= MAX_BUCKETS:
            return size
    return BUCKET_SIZES_NS[-1]


def window_ending_at(latest_ns: int, length_ns: int) -> Window:
    """``length_ns`` of data up to the bucket that holds ``latest_ns``, aligned to whole
    buckets (24 hours ending at the next full hour), so bucket labels read as times.

    It ends one microsecond before the boundary: inclusive like ``until``, and exact in
    the ISO 8601 times of the links to ``/traces``, which go to the microsecond.
    """
    size = bucket_size(length_ns)
    end = (latest_ns // size + 1) * size
    if latest_ns > end - 1000:  # the newest trace is in the boundary's last microsecond
        end += size
    return Window(end - length_ns, end - 1000, size)


def window_between(since_ns: int, until_ns: int) -> Window:
    return Window(since_ns, until_ns, bucket_size(until_ns - since_ns))


@dataclass(slots=True)
class Stats:
    """Figures over a set of traces. The counts and sums add up across sets; the
    percentiles are computed per set."""

    traces: int = 0
    errors: int = 0
    escalations: int = 0
    priced: int = 0  # traces that reported a cost
    cost_usd: float = 0.0  # summed over the priced ones
    input_tokens: int = 0
    output_tokens: int = 0
    llm_calls: int = 0
    tool_calls: int = 0
    p50_ms: float | None = None
    p95_ms: float | None = None

    def add(self, other: Stats) -> None:
        for name in _ADDITIVE:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @property
    def successes(self) -> int:
        return self.traces - self.errors

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    @property
    def steps(self) -> int:
        return self.llm_calls + self.tool_calls

    @property
    def error_rate(self) -> float | None:
        return _ratio(self.errors, self.traces)

    @property
    def success_rate(self) -> float | None:
        return _ratio(self.successes, self.traces)

    @property
    def escalation_rate(self) -> float | None:
        return _ratio(self.escalations, self.traces)

    @property
    def cost(self) -> float | None:
        """Known cost; None when no trace reported one (unknown is not $0)."""
        return self.cost_usd if self.priced else None

    @property
    def cost_per_trace(self) -> float | None:
        return _ratio(self.cost_usd, self.priced)

    @property
    def cost_per_success(self) -> float | None:
        return _ratio(self.cost_usd, self.successes) if self.priced else None

    @property
    def tokens_per_trace(self) -> float | None:
        return _ratio(self.tokens, self.traces)

    @property
    def steps_per_trace(self) -> float | None:
        return _ratio(self.steps, self.traces)

    @property
    def llm_calls_per_trace(self) -> float | None:
        return _ratio(self.llm_calls, self.traces)

    @property
    def tool_calls_per_trace(self) -> float | None:
        return _ratio(self.tool_calls, self.traces)


_ADDITIVE = (
    "traces", "errors", "escalations", "priced", "cost_usd",
    "input_tokens", "output_tokens", "llm_calls", "tool_calls",
)  # fmt: skip


def _ratio(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def _stat_columns() -> list[sa.ColumnElement[Any]]:
    """The additive part of :class:`Stats`, as aggregates labelled like its fields."""

    def count_where(condition: Condition) -> sa.ColumnElement[int]:
        return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)

    def total(column: sa.ColumnElement[int]) -> sa.ColumnElement[int]:
        return sa.func.coalesce(sa.func.sum(column), 0)

    return [
        sa.func.count().label("traces"),
        count_where(Trace.status == Status.ERROR.value).label("errors"),
        count_where(Trace.escalated).label("escalations"),
        sa.func.count(Trace.cost_usd).label("priced"),
        sa.func.coalesce(sa.func.sum(Trace.cost_usd), 0.0).label("cost_usd"),
        total(Trace.input_tokens).label("input_tokens"),
        total(Trace.output_tokens).label("output_tokens"),
        total(Trace.llm_call_count).label("llm_calls"),
        total(Trace.tool_call_count).label("tool_calls"),
    ]


def _stats(row: Any) -> Stats:
    """PostgreSQL sums bigints as numeric (Decimal in Python): back to int and float."""
    values = {name: int(getattr(row, name)) for name in _ADDITIVE if name != "cost_usd"}
    return Stats(**values, cost_usd=float(row.cost_usd))


def _in_window(project_id: int, window: Window) -> list[Condition]:
    return [Trace.project_id == project_id, *_between(window.since_ns, window.until_ns)]


# Percentiles ------------------------------------------------------------------------


def _quantiles_ms(durations_ns: np.ndarray[Any, Any]) -> tuple[float, float]:
    """(p50, p95) in ms of a non-empty array, interpolated linearly like PostgreSQL's
    ``percentile_cont``."""
    low, high = np.percentile(durations_ns, [100 * q for q in QUANTILES])
    return float(low) / NS_PER_MS, float(high) / NS_PER_MS


def _is_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


# Overview ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Group:
    """One agent and version (either may be None: traces that name no agent)."""

    agent: str | None
    version: str | None
    stats: Stats
    buckets: list[Stats]


@dataclass(frozen=True, slots=True)
class TraceSummary:
    trace_id: str
    name: str | None
    agent: str | None
    version: str | None
    status: str
    start_time_ns: int
    duration_ms: float
    cost_usd: float | None
    tokens: int


@dataclass(frozen=True, slots=True)
class ToolStats:
    name: str | None
    calls: int
    errors: int

    @property
    def error_rate(self) -> float | None:
        return _ratio(self.errors, self.calls)


@dataclass(frozen=True, slots=True)
class Overview:
    window: Window
    totals: Stats
    buckets: list[Stats]
    groups: list[Group]  # most traces first
    most_expensive: list[TraceSummary]
    slowest: list[TraceSummary]
    failing_tools: list[ToolStats]  # most errors first; tools that never failed are left out


def latest_start_ns(session: Session, project_id: int) -> int | None:
    """The newest trace's start: where "the last 24 hours of data" ends."""
    return session.scalar(
        sa.select(sa.func.max(Trace.start_time_ns)).where(Trace.project_id == project_id)
    )


def overview(session: Session, project_id: int, window: Window) -> Overview:
    slices = _slices(session, project_id, window)

    def rankings(side: Session) -> tuple[list[TraceSummary], list[TraceSummary], list[ToolStats]]:
        priced = Trace.cost_sort_key() >= 0  # "most expensive" among unknown costs is arbitrary
        return (
            top_traces(side, slices, Trace.cost_sort_key(), [priced]),
            top_traces(side, slices, Trace.duration_ns),
            failing_tools(side, project_id, window),
        )

    with _beside(session, rankings) as ranked:
        groups: dict[GroupKey, Group] = {}
        totals = Stats()
        buckets = [Stats() for _ in range(window.buckets)]
        for agent, version, index, stats in _bucket_stats(session, project_id, slices, window):
            group = groups.get((agent, version))
            if group is None:
                empty = [Stats() for _ in range(window.buckets)]
                group = groups[(agent, version)] = Group(agent, version, Stats(), empty)
            for target in (totals, buckets[index], group.stats, group.buckets[index]):
                target.add(stats)
        percentiles = _window_percentiles(session, slices, window)
        most_expensive, slowest, tools = ranked.result()
    _set_percentiles(totals, percentiles.total)
    for index, values in percentiles.buckets.items():
        _set_percentiles(buckets[index], values)
    for key, values in percentiles.groups.items():
        if key in groups:
            _set_percentiles(groups[key].stats, values)
    return Overview(
        window=window,
        totals=totals,
        buckets=buckets,
        groups=sorted(groups.values(), key=_most_traces_first),
        most_expensive=most_expensive,
        slowest=slowest,
        failing_tools=tools,
    )


@contextmanager
def _beside(session: Session, task: Callable[[Session], T]) -> Iterator[Future[T]]:
    """Run ``task`` on another thread, with its own session, while the caller goes on.

    SQLite and psycopg release the GIL while a statement runs, so a page's independent
    statements use two cores instead of one: the overview's rankings run while its
    aggregates are read (about a third off the page at 160,000 traces), and the two
    cohorts of a comparison are read at once. The two sessions do not share a snapshot;
    traces written in between may be counted by one read and not the other, as with any
    two requests.
    """
    engine = session.get_bind()

    def run() -> T:
        with Session(engine) as own:
            return task(own)

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="analytics") as pool:
        yield pool.submit(run)


def _most_traces_first(group: Group) -> tuple[int, str, str]:
    return (-group.stats.traces, group.agent or "", group.version or "")


def agent_versions(session: Session, project_id: int) -> list[GroupKey]:
    """Every (agent, version) the project has traces of, None included.

    For SQLite: it answers DISTINCT on the analytics index's leading columns by seeking
    from one value to the next, one seek per version. PostgreSQL would read every trace
    of the project (it has no skip scan); it needs no list of versions here.
    """
    statement = (
        sa.select(Trace.agent_name, Trace.agent_version)
        .where(Trace.project_id == project_id)
        .distinct()
    )
    return [tuple(row) for row in session.execute(statement)]


# A part of the window read by one statement: its agent version (None: any, grouped by
# the statement itself) and its conditions.
Slice = tuple[GroupKey | None, list[Condition]]


def _slices(session: Session, project_id: int, window: Window) -> list[Slice]:
    """The window as the index ranges statements read.

    PostgreSQL reads the window at once and hash-aggregates. SQLite has no hash
    aggregate: grouping 160,000 traces by agent, version and bucket in one statement
    sorts them all on the agent and version strings (250 ms), and ranking them by cost
    reads every row. One statement per agent version instead reads one contiguous range
    of the analytics index, in order, and groups on the bucket number only (85 ms in all).
    """
    if _is_postgresql(session):
        return [(None, _in_window(project_id, window))]
    return [
        ((agent, version), _group_conditions(project_id, agent, version, window))
        for agent, version in agent_versions(session, project_id)
    ]


def _group_conditions(
    project_id: int, agent: str | None, version: str | None, window: Window
) -> list[Condition]:
    """One agent version's traces in the window: one contiguous range of the index."""
    return [*_of_group(project_id, agent, version), *_between(window.since_ns, window.until_ns)]


def _of_group(project_id: int, agent: str | None, version: str | None) -> list[Condition]:
    return [
        Trace.project_id == project_id,
        Trace.agent_name.is_(None) if agent is None else Trace.agent_name == agent,
        Trace.agent_version.is_(None) if version is None else Trace.agent_version == version,
    ]


def _between(low: int, high: int) -> list[Condition]:
    return [Trace.start_time_ns >= low, Trace.start_time_ns <= high]


def _bucket_stats(
    session: Session, project_id: int, slices: Sequence[Slice], window: Window
) -> list[tuple[str | None, str | None, int, Stats]]:
    """(agent, version, bucket, stats) for every combination that has traces.

    On SQLite, even grouping one agent version by bucket number sorts its traces with
    every aggregated column (100 ms of 150 at 160,000 traces). Its buckets are
    consecutive ranges of the index, so each is aggregated on its own, without sorting,
    in one UNION ALL statement per agent version.
    """
    bucket = _bucket_index(window)
    last = window.buckets - 1
    rows: list[tuple[str | None, str | None, int, Stats]] = []
    for key, conditions in slices:
        if key is None:
            statement = (
                sa.select(Trace.agent_name, Trace.agent_version, bucket, *_stat_columns())
                .where(*conditions)
                .group_by(Trace.agent_name, Trace.agent_version, bucket)
            )
            rows += [
                (row.agent_name, row.agent_version, min(row.bucket, last), _stats(row))
                for row in session.execute(statement)
            ]
            continue
        agent, version = key
        params: dict[str, Any] = {"project_id": project_id, "agent": agent, "version": version}
        for index, (low, high) in enumerate(window.bucket_bounds()):
            params[f"low_{index}"], params[f"high_{index}"] = low, high
        statement = _bucket_union(window.buckets, agent is not None, version is not None)
        rows += [
            (agent, version, row.bucket, _stats(row))
            for row in session.execute(statement, params)
            if row.traces
        ]
    return rows


@cache
def _bucket_union(buckets: int, named: bool, versioned: bool) -> sa.CompoundSelect[Any]:
    """One agent version's buckets, each aggregated over its own index range.

    Built once per shape: constructing 30 copies of the aggregates costs SQLAlchemy
    more (25 ms) than SQLite takes to run them.
    """
    agent, version = sa.bindparam("agent"), sa.bindparam("version")
    group = [
        Trace.project_id == sa.bindparam("project_id"),
        Trace.agent_name == agent if named else Trace.agent_name.is_(None),
        Trace.agent_version == version if versioned else Trace.agent_version.is_(None),
    ]
    columns = _stat_columns()
    return sa.union_all(
        *(
            sa.select(sa.literal_column(str(index)).label("bucket"), *columns).where(
                *group,
                Trace.start_time_ns >= sa.bindparam(f"low_{index}"),
                Trace.start_time_ns <= sa.bindparam(f"high_{index}"),
            )
            for index in range(buckets)
        )
    )


@dataclass(frozen=True, slots=True)
class _Percentiles:
    total: tuple[float, float] | None
    buckets: dict[int, tuple[float, float]]
    groups: dict[GroupKey, tuple[float, float]]


def _window_percentiles(session: Session, slices: Sequence[Slice], window: Window) -> _Percentiles:
    """p50 and p95 duration over the window, per bucket and per agent version.

    PostgreSQL: ``percentile_cont`` in three grouped statements. SQLite: each agent
    version's (bucket, duration) pairs from its index range, and pandas' linear
    percentiles, which are ``percentile_cont``'s.
    """
    bucket = _bucket_index(window)
    last = window.buckets - 1
    if _is_postgresql(session):
        conditions = [c for _, slice_conditions in slices for c in slice_conditions]
        total = _percentiles_in_sql(session, conditions, [])
        by_bucket = _percentiles_in_sql(session, conditions, [bucket])
        by_group = _percentiles_in_sql(session, conditions, [Trace.agent_name, Trace.agent_version])
        clipped: dict[int, tuple[float, float]] = {}
        for (index,), values in sorted(by_bucket.items()):
            clipped.setdefault(min(index, last), values)
        return _Percentiles(total.get(()), clipped, by_group)
    pairs = []
    by_group = {}
    for key, conditions in slices:
        rows = _fetch_tuples(session, sa.select(bucket, Trace.duration_ns).where(*conditions))
        if rows and key is not None:
            pair = np.array(rows, dtype=np.int64)
            by_group[key] = _quantiles_ms(pair[:, 1])
            pairs.append(pair)
    if not pairs:
        return _Percentiles(None, {}, {})
    everything = np.concatenate(pairs)
    buckets, durations = np.minimum(everything[:, 0], last), everything[:, 1]
    order = np.argsort(buckets, kind="stable")
    indexes, starts = np.unique(buckets[order], return_index=True)
    ends = [*starts[1:], len(order)]
    by_bucket = {
        int(index): _quantiles_ms(durations[order[start:end]])
        for index, start, end in zip(indexes, starts, ends, strict=True)
    }
    return _Percentiles(_quantiles_ms(durations), by_bucket, by_group)


def _fetch_tuples(session: Session, statement: sa.Select[Any]) -> list[tuple[Any, ...]]:
    """The rows as the driver returns them, for columns that need no type processing.

    SQLAlchemy builds a Row object per row: 2 to 3 µs each here, so for the 160,000
    durations of a day that was 300 ms of a 300 ms budget. The DBAPI cursor hands over
    plain tuples in a quarter of the time.
    """
    result = session.connection().execute(statement)
    try:
        return list(result.cursor.fetchall())
    finally:
        result.close()


def _percentiles_in_sql(
    session: Session, conditions: Sequence[Condition], grouping: Sequence[sa.ColumnElement[Any]]
) -> dict[GroupKey, tuple[float, float]]:
    percentiles = [
        sa.func.percentile_cont(q).within_group(Trace.duration_ns).label(f"p{q}") for q in QUANTILES
    ]
    statement = sa.select(*grouping, *percentiles).where(*conditions)
    if grouping:
        statement = statement.group_by(*grouping)
    result: dict[GroupKey, tuple[float, float]] = {}
    for row in session.execute(statement):
        low, high = row[-2], row[-1]
        if low is not None:
            result[tuple(row[:-2])] = (low / NS_PER_MS, high / NS_PER_MS)
    return result


def _bucket_index(window: Window) -> sa.ColumnElement[int]:
    """Integer division on both databases (both operands are integers)."""
    offset = Trace.start_time_ns - sa.literal(window.since_ns, sa.BigInteger)
    return (offset // sa.literal(window.bucket_ns, sa.BigInteger)).label("bucket")


def _set_percentiles(stats: Stats, values: tuple[float, float] | None) -> None:
    if values is not None:
        stats.p50_ms, stats.p95_ms = values


def _summary_columns() -> list[sa.ColumnElement[Any]]:
    """:class:`TraceSummary`'s fields, in order."""
    return [
        Trace.trace_id, Trace.name, Trace.agent_name, Trace.agent_version, Trace.status,
        Trace.start_time_ns, Trace.duration_ns, Trace.cost_usd,
        Trace.input_tokens + Trace.output_tokens,
    ]  # fmt: skip


def top_traces(
    session: Session,
    slices: Sequence[Slice],
    key: sa.ColumnElement[Any],
    conditions: Sequence[Condition] = (),
    limit: int = TOP,
) -> list[TraceSummary]:
    """The first ``limit`` traces by ``key``, highest first (ties: newest row first).

    Each slice ranks its own range on index columns; the winners of all slices are
    merged here and only the final ``limit`` rows are read from the table.
    """
    candidates: list[tuple[Any, int]] = []
    for _, slice_conditions in slices:
        statement = (
            sa.select(key, Trace.id)
            .where(*slice_conditions, *conditions)
            .order_by(key.desc(), Trace.id.desc())
            .limit(limit)
        )
        candidates += [(value, row_id) for value, row_id in session.execute(statement)]
    winners = [row_id for _, row_id in sorted(candidates, reverse=True)[:limit]]
    if not winners:
        return []
    statement = (
        sa.select(*_summary_columns())
        .where(Trace.id.in_(winners))
        .order_by(key.desc(), Trace.id.desc())
    )
    return [
        TraceSummary(
            trace_id, name, agent, version, status, start, duration / NS_PER_MS, cost, tokens
        )
        for trace_id, name, agent, version, status, start, duration, cost, tokens in (
            session.execute(statement).all()
        )
    ]


def failing_tools(
    session: Session, project_id: int, window: Window, limit: int = TOP
) -> list[ToolStats]:
    """The tools with the most failed calls in the window (by the call's own start
    time), with all their calls there.

    The failures come from a partial index of failed tool calls by time (a short
    range); the calls of the ``limit`` worst tools from the tool-and-time index, one
    range each. Neither reads a span row.
    """
    errors = dict(session.execute(failed_calls_query(project_id, window, limit)).all())
    calls: dict[str | None, int] = {}
    if errors:
        counted = session.execute(tool_calls_query(project_id, window, list(errors)))
        calls.update(counted.all())
    return [ToolStats(name, calls.get(name, count), count) for name, count in errors.items()]


def _tool_calls_in(project_id: int, window: Window) -> list[Condition]:
    return [
        Span.project_id == project_id,
        Span.kind == SpanKind.TOOL.value,
        Span.start_time_ns >= window.since_ns,
        Span.start_time_ns <= window.until_ns,
    ]


def failed_calls_query(project_id: int, window: Window, limit: int) -> sa.Select[Any]:
    """(tool name, failed calls) for the ``limit`` tools that failed most."""
    return (
        sa.select(Span.tool_name, sa.func.count())
        .where(*_tool_calls_in(project_id, window), Span.status == Status.ERROR.value)
        .group_by(Span.tool_name)
        .order_by(sa.func.count().desc(), Span.tool_name)
        .limit(limit)
    )


def tool_calls_query(
    project_id: int, window: Window, names: Sequence[str | None]
) -> sa.Select[Any]:
    """(tool name, calls) for the named tools; None stands for tool calls that name no
    tool (rare: the normalizer takes the name from the span's when it can)."""
    named = [name for name in names if name is not None]
    which = [Span.tool_name.in_(named)] if named else []
    if None in names:
        which.append(Span.tool_name.is_(None))
    return (
        sa.select(Span.tool_name, sa.func.count())
        .where(*_tool_calls_in(project_id, window), sa.or_(*which))
        .group_by(Span.tool_name)
    )


# Compare ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MixRow:
    """Calls to one tool or model within a cohort."""

    name: str | None
    calls: int
    errors: int


@dataclass(frozen=True, slots=True)
class Values:
    """Per-trace values of a cohort, for its percentiles and histograms (NaN: unknown)."""

    duration_ms: list[float] = field(default_factory=list)
    cost_usd: list[float] = field(default_factory=list)
    tokens: list[float] = field(default_factory=list)
    steps: list[float] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Cohort:
    stats: Stats
    tools: list[MixRow]  # most calls first
    models: list[MixRow]
    values: Values


def cohorts(session: Session, a: TraceFilter, b: TraceFilter) -> tuple[Cohort, Cohort]:
    """Two cohorts, read at the same time (see :func:`_beside`)."""
    with _beside(session, lambda side: cohort(side, b)) as second:
        first = cohort(session, a)
        return first, second.result()


def cohort(session: Session, selection: TraceFilter) -> Cohort:
    """Everything the compare page shows for the traces ``selection`` selects.

    Counts and sums come from SQL; the per-trace values (four numeric columns) give the
    percentiles and histograms. Each part of :func:`_cohort_slices` is read on its own
    and the parts are added up.
    """
    stats = Stats()
    rows: list[tuple[Any, ...]] = []
    tools: list[MixRow] = []
    models: list[MixRow] = []
    for conditions in _cohort_slices(session, selection):
        stats.add(_stats(session.execute(sa.select(*_stat_columns()).where(*conditions)).one()))
        rows += _fetch_tuples(session, _values_query(conditions))
        tools += _mix(session, conditions, Span.tool_name, _TOOL_CALLS)
        models += _mix(session, conditions, Span.model, _MODEL_CALLS)
    frame = pd.DataFrame(rows, columns=["duration", "cost", "tokens", "steps"], dtype="float64")
    if not frame.empty:
        stats.p50_ms, stats.p95_ms = _quantiles_ms(frame["duration"].to_numpy())
    values = Values(
        duration_ms=(frame["duration"] / NS_PER_MS).tolist(),
        cost_usd=frame["cost"].tolist(),
        tokens=frame["tokens"].tolist(),
        steps=frame["steps"].tolist(),
    )
    return Cohort(stats=stats, tools=_merged(tools), models=_merged(models), values=values)


def _cohort_slices(session: Session, selection: TraceFilter) -> list[list[Condition]]:
    """The selection's conditions, on SQLite once per agent version it may hold.

    A cohort that names no agent version (two time windows, a model, errors only) would
    read the time index and then every trace's row (1.4 s for 80,000 traces); split by
    agent version, each part is a range of the analytics index, which covers the stats,
    the values and the join to the calls. PostgreSQL reads the selection at once.
    """
    conditions = filter_conditions(selection)
    named = selection.agent is not None and selection.agent_version is not None
    if _is_postgresql(session) or selection.project is None or named:
        return [conditions]
    pid = session.scalar(sa.select(Project.id).where(Project.name == selection.project))
    if pid is None:
        return [conditions]
    return [
        [*conditions, *_of_group(pid, agent, version)]
        for agent, version in agent_versions(session, pid)
        if selection.agent in (None, agent) and selection.agent_version in (None, version)
    ]


def _merged(rows: Iterable[MixRow]) -> list[MixRow]:
    """One row per name, most calls first."""
    totals: dict[str | None, list[int]] = {}
    for row in rows:
        total = totals.setdefault(row.name, [0, 0])
        total[0] += row.calls
        total[1] += row.errors
    merged = [MixRow(name, calls, errors) for name, (calls, errors) in totals.items()]
    return sorted(merged, key=lambda row: (-row.calls, row.name or ""))


# The partial indexes' conditions (and, for models, the spans whose model is their own
# call's: agent spans often name the model of the calls below them).
_TOOL_CALLS = Span.kind == SpanKind.TOOL.value
_MODEL_CALLS = sa.and_(Span.model.is_not(None), Span.kind.in_([kind.value for kind in USAGE_KINDS]))


def _values_query(conditions: Sequence[Condition]) -> sa.Select[Any]:
    return sa.select(
        Trace.duration_ns,
        Trace.cost_usd,
        Trace.input_tokens + Trace.output_tokens,
        Trace.llm_call_count + Trace.tool_call_count,
    ).where(*conditions)


def _mix(
    session: Session,
    conditions: Sequence[Condition],
    name: sa.ColumnElement[str | None],
    calls: Condition,
) -> list[MixRow]:
    """Calls per tool (or model) over the cohort's spans, most first."""
    rows = [
        MixRow(called, count, count if status == Status.ERROR.value else 0)
        for called, status, count in session.execute(_mix_query(conditions, name, calls))
        if status is not None  # not the cohort's traces without such calls (outer join)
    ]
    return _merged(rows)


def _mix_query(
    conditions: Sequence[Condition], name: sa.ColumnElement[str | None], calls: Condition
) -> sa.Select[Any]:
    """The cohort's traces, each joined to its calls in a partial index keyed by trace
    (``calls`` is that index's condition, so the index covers the join).

    A LEFT JOIN because SQLite never reorders one: the cohort (40,000 traces) stays the
    outer loop. As an inner join, with ANALYZE's sampled statistics SQLite preferred
    to walk every tool call of the project and probe each trace's row: 3 s, not 0.13.
    Grouping by name and status rather than name alone also keeps the tool-and-time
    index's name order from looking attractive.
    """
    on = sa.and_(Span.project_id == Trace.project_id, Span.trace_id == Trace.trace_id, calls)
    return (
        sa.select(name, Span.status, sa.func.count(Span.status))
        .select_from(Trace)
        .outerjoin(Span, on)
        .where(*conditions)
        .group_by(name, Span.status)
    )


def shares(rows: Iterable[MixRow]) -> dict[str | None, float]:
    """Each row's share of all calls."""
    rows = list(rows)
    total = sum(row.calls for row in rows)
    return {row.name: row.calls / total for row in rows} if total else {}


@dataclass(frozen=True, slots=True)
class Histogram:
    """Two cohorts' values in the same bins, as shares of each cohort's traces (so
    cohorts of different sizes compare). Bin i is [edges[i], edges[i+1]); the last bin
    also holds everything above (outliers past the pooled 99th percentile)."""

    edges: list[float]
    a: list[float]
    b: list[float]


def histogram(a: Sequence[float], b: Sequence[float], bins: int = 12) -> Histogram | None:
    """Shared bins of a "nice" width (1, 2, 2.5 or 5 x 10^k) from 0 to the 99th
    percentile of both cohorts together; None when neither has a known value."""
    first = pd.Series(a, dtype="float64").dropna()
    second = pd.Series(b, dtype="float64").dropna()
    pooled = pd.concat([first, second])
    if pooled.empty:
        return None
    top = max(float(pooled.quantile(0.99)), float(pooled.min()), 0.0)
    width = _nice_width(top / bins) if top > 0 else 1.0
    count = max(1, min(bins, math.ceil(top / width) if top > 0 else 1))
    edges = [i * width for i in range(count + 1)]

    def shares_of(values: pd.Series) -> list[float]:
        if values.empty:
            return [0.0] * count
        index = (values.clip(lower=0) // width).clip(upper=count - 1).astype("int64")
        counts = index.value_counts().reindex(range(count), fill_value=0)
        return (counts / len(values)).tolist()

    return Histogram(edges, shares_of(first), shares_of(second))


def _nice_width(raw: float) -> float:
    magnitude = 10 ** math.floor(math.log10(raw))
    for step in (1, 2, 2.5, 5, 10):
        if step * magnitude >= raw:
            return step * magnitude
    return 10 * magnitude
