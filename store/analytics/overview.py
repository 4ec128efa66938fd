"""The overview: a project's health over a window, per agent and version and per time
bucket, its most expensive and slowest traces and its most failing tools (those from
``store/analytics/tools.py``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.orm import Session

from store.analytics.figures import (
    NS_PER_MS,
    QUANTILES,
    TOP,
    Condition,
    GroupKey,
    Stats,
    Window,
    agent_versions,
    beside,
    between,
    fetch_tuples,
    in_window,
    is_postgresql,
    of_group,
    quantiles_ms,
    stat_columns,
    stats_of,
)
from store.analytics.tools import ToolStats, failing_tools
from store.models import Trace

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

    with beside(session, rankings) as ranked:
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


def _most_traces_first(group: Group) -> tuple[int, str, str]:
    return (-group.stats.traces, group.agent or "", group.version or "")


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
    if is_postgresql(session):
        return [(None, in_window(project_id, window))]
    return [
        ((agent, version), _group_conditions(project_id, agent, version, window))
        for agent, version in agent_versions(session, project_id)
    ]


def _group_conditions(
    project_id: int, agent: str | None, version: str | None, window: Window
) -> list[Condition]:
    """One agent version's traces in the window: one contiguous range of the index."""
    return [*of_group(project_id, agent, version), *between(window.since_ns, window.until_ns)]


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
                sa.select(Trace.agent_name, Trace.agent_version, bucket, *stat_columns())
                .where(*conditions)
                .group_by(Trace.agent_name, Trace.agent_version, bucket)
            )
            rows += [
                (row.agent_name, row.agent_version, min(row.bucket, last), stats_of(row))
                for row in session.execute(statement)
            ]
            continue
        agent, version = key
        params: dict[str, Any] = {"project_id": project_id, "agent": agent, "version": version}
        for index, (low, high) in enumerate(window.bucket_bounds()):
            params[f"low_{index}"], params[f"high_{index}"] = low, high
        statement = _bucket_union(window.buckets, agent is not None, version is not None)
        rows += [
            (agent, version, row.bucket, stats_of(row))
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
    columns = stat_columns()
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
    if is_postgresql(session):
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
        rows = fetch_tuples(session, sa.select(bucket, Trace.duration_ns).where(*conditions))
        if rows and key is not None:
            pair = np.array(rows, dtype=np.int64)
            by_group[key] = quantiles_ms(pair[:, 1])
            pairs.append(pair)
    if not pairs:
        return _Percentiles(None, {}, {})
    everything = np.concatenate(pairs)
    buckets, durations = np.minimum(everything[:, 0], last), everything[:, 1]
    order = np.argsort(buckets, kind="stable")
    indexes, starts = np.unique(buckets[order], return_index=True)
    ends = [*starts[1:], len(order)]
    by_bucket = {
        int(index): quantiles_ms(durations[order[start:end]])
        for index, start, end in zip(indexes, starts, ends, strict=True)
    }
    return _Percentiles(quantiles_ms(durations), by_bucket, by_group)


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
