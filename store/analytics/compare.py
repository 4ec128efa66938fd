"""Compare: two cohorts (any two trace filters) side by side, with their tool and model
mix and distributions."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.orm import Session

from store.analytics.figures import (
    NS_PER_MS,
    Condition,
    Stats,
    agent_versions,
    beside,
    fetch_tuples,
    is_postgresql,
    of_group,
    quantiles_ms,
    stat_columns,
    stats_of,
)
from store.models import Project, Span, Trace
from store.queries import TraceFilter, filter_conditions
from store.vocabulary import USAGE_KINDS, SpanKind, Status

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
    """Two cohorts, read at the same time (see :func:`beside`)."""
    with beside(session, lambda side: cohort(side, b)) as second:
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
        stats.add(stats_of(session.execute(sa.select(*stat_columns()).where(*conditions)).one()))
        rows += fetch_tuples(session, _values_query(conditions))
        tools += _mix(session, conditions, Span.tool_name, _TOOL_CALLS)
        models += _mix(session, conditions, Span.model, _MODEL_CALLS)
    frame = pd.DataFrame(rows, columns=["duration", "cost", "tokens", "steps"], dtype="float64")
    if not frame.empty:
        stats.p50_ms, stats.p95_ms = quantiles_ms(frame["duration"].to_numpy())
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
    if is_postgresql(session) or selection.project is None or named:
        return [conditions]
    pid = session.scalar(sa.select(Project.id).where(Project.name == selection.project))
    if pid is None:
        return [conditions]
    return [
        [*conditions, *of_group(pid, agent, version)]
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
