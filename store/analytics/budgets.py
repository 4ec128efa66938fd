"""A project's budgets against its spending: what each has spent in its current period,
how fast its scope is spending, and where that ends the period.

Periods are UTC: a day budget counts the traces that started since midnight, a month
budget those since the 1st, and a trace budget compares each trace of the month with
its limit (its "spent" is the month's most expensive trace). A trace counts in the
period its start time falls in, and only once ``now`` has passed that start.

The forecast rule
-----------------
* The **burn rate** (USD per day) is the spend of the trailing 7 days, divided by 7
  days, or by the time since the scope's first trace when that is shorter (never less
  than an hour, so one early trace is not extrapolated into a huge rate). A week, not
  the month so far: a rate that changed (a new version, a prompt that doubled in size)
  shows within days, and on the 2nd of the month there is still a week of history. A
  week, not a day: it covers every weekday, so a quiet Sunday does not read as savings.
* A **month** ends at what it has spent plus the burn rate times the days left
  (fractional): ``spent + rate * (month_end - now) / 1 day``.
* A **day** ends at what it has spent plus the hourly rate of the trailing 24 hours
  (same rule: divided by 24 hours or the time since the first trace) times the hours
  left: a day's forecast must follow the last hours, not last week.
* The **state** is ``over`` when spent > limit, ``forecast_over`` when the forecast >
  limit, else ``ok``. A trace budget has no forecast.

Costs that are unknown are never $0: a trace with an unpriced model call adds only its
priced calls (or nothing) to the spend, and is counted in ``unpriced``, so the page says
the spend is a floor ("at least $X; N traces unpriced"); the rates are floors likewise.

Every figure is summed in SQL, in one pass over the month and the trailing week. On
SQLite, which has no skip scan, each agent version is one contiguous range of the
analytics index (``ix_traces_analytics``: project, agent, version and start time lead,
and it holds the cost), as in ``overview.py``; PostgreSQL reads the project's time range
at once and hash-aggregates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row
from sqlalchemy.orm import Session

from store.analytics.figures import Condition, of_group
from store.budgets import StoredBudget, budgets
from store.models import Trace

Db = Session | Connection

HOUR_NS = 3600 * 1_000_000_000
DAY_NS = 24 * HOUR_NS
WEEK_NS = 7 * DAY_NS
MIN_ELAPSED_NS = HOUR_NS  # a rate is never taken over less than this
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
OK, FORECAST_OVER, OVER = "ok", "forecast_over", "over"
# Agent versions aggregated per statement on SQLite: a compound SELECT may have at most
# 500 parts there (SQLITE_MAX_COMPOUND_SELECT).
SLICES_PER_STATEMENT = 50


@dataclass(frozen=True, slots=True)
class BudgetStatus:
    """One budget and where its current period stands."""

    id: int
    agent: str | None  # None: the whole project
    period: str  # trace, day or month
    limit_usd: float
    period_start: datetime  # UTC; the month for a trace budget
    period_end: datetime
    spent_usd: float | None  # known cost so far; trace: the costliest trace (None: none priced)
    traces: int  # traces in the period
    unpriced: int  # of which with a model call no price covers: the spend is a floor
    burn_rate_usd_per_day: float  # the scope's, over the trailing 7 days
    forecast_usd: float | None  # at the end of the period; None for a trace budget
    state: str  # OK, FORECAST_OVER or OVER
    over_limit_traces: int | None = None  # trace budget: this month's traces over the limit
    top_trace_id: str | None = None  # trace budget: this month's most expensive trace

    @property
    def scope(self) -> str:
        return "project" if self.agent is None else "agent"


@dataclass(frozen=True, slots=True)
class Bounds:
    """The instants a status is read at, in nanoseconds since the epoch (UTC)."""

    now: datetime
    now_ns: int
    day_start: datetime
    day_end: datetime
    month_start: datetime
    month_end: datetime

    @classmethod
    def at(cls, now: datetime) -> Bounds:
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware (UTC)")
        now = now.astimezone(UTC)
        day = now.replace(hour=0, minute=0, second=0, microsecond=0)
        month = day.replace(day=1)
        next_month = (month + timedelta(days=32)).replace(day=1)
        return cls(now, ns(now), day, day + timedelta(days=1), month, next_month)

    @property
    def week_start_ns(self) -> int:
        return self.now_ns - WEEK_NS

    @property
    def last24_start_ns(self) -> int:
        return self.now_ns - DAY_NS


def ns(moment: datetime) -> int:
    """Nanoseconds since the epoch, exactly (``timestamp()`` is a float)."""
    return (moment - EPOCH) // timedelta(microseconds=1) * 1000


@dataclass(slots=True)
class Sums:
    """One agent version's figures (or a scope's, summed)."""

    month_traces: int = 0
    month_unpriced: int = 0
    month_cost: float = 0.0
    month_max: float | None = None  # the costliest priced trace of the month
    day_traces: int = 0
    day_unpriced: int = 0
    day_cost: float = 0.0
    week_cost: float = 0.0
    week_first_ns: int | None = None  # the first trace of the trailing 7 days
    last24_cost: float = 0.0
    over: list[int] = field(default_factory=list)  # traces over each trace limit this month

    @classmethod
    def of(cls, row: Row[Any], limits: int) -> Sums:
        return cls(
            month_traces=row.month_traces,
            month_unpriced=row.month_unpriced,
            month_cost=float(row.month_cost or 0.0),
            month_max=row.month_max,
            day_traces=row.day_traces,
            day_unpriced=row.day_unpriced,
            day_cost=float(row.day_cost or 0.0),
            week_cost=float(row.week_cost or 0.0),
            week_first_ns=row.week_first,
            last24_cost=float(row.last24_cost or 0.0),
            over=[int(row._mapping[f"over_{index}"]) for index in range(limits)],
        )

    def add(self, other: Sums) -> None:
        for name in ("month_traces", "month_unpriced", "month_cost", "day_traces",
                     "day_unpriced", "day_cost", "week_cost", "last24_cost"):  # fmt: skip
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.month_max = _max(self.month_max, other.month_max)
        firsts = [n for n in (self.week_first_ns, other.week_first_ns) if n is not None]
        self.week_first_ns = min(firsts) if firsts else None
        self.over = [a + b for a, b in zip(self.over, other.over, strict=True)]


# (agent, version) -> its figures
Versions = dict[tuple[str | None, str | None], Sums]


def budget_status(db: Db, project_id: int, now: datetime) -> list[BudgetStatus]:
    """Every budget of the project, in ``budgets()``'s order, as of ``now`` (UTC)."""
    stored = budgets(db, project_id)
    if not stored:
        return []
    bounds = Bounds.at(now)
    limits = sorted({b.limit_usd for b in stored if b.period == "trace"})
    versions = version_sums(db, project_id, bounds, limits)
    scopes: dict[str | None, tuple[Versions, Sums, bool]] = {}
    for agent in {b.agent for b in stored}:
        mine = {key: sums for key, sums in versions.items() if agent in (None, key[0])}
        total = Sums(over=[0] * len(limits))
        for sums in mine.values():
            total.add(sums)
        older = total.week_first_ns is not None and has_older(db, project_id, agent, bounds)
        scopes[agent] = (mine, total, older)
    return [_status(db, project_id, b, bounds, *scopes[b.agent], limits) for b in stored]


def _status(
    db: Db,
    project_id: int,
    budget: StoredBudget,
    bounds: Bounds,
    versions: Versions,
    total: Sums,
    older: bool,
    limits: Sequence[float],
) -> BudgetStatus:
    now_ns = bounds.now_ns
    daily = total.week_cost / _elapsed(WEEK_NS, total.week_first_ns, older, now_ns) * DAY_NS
    extra: dict[str, Any] = {}
    if budget.period == "trace":
        start, end = bounds.month_start, bounds.month_end
        spent, traces, unpriced = total.month_max, total.month_traces, total.month_unpriced
        forecast = None
        extra["over_limit_traces"] = total.over[limits.index(budget.limit_usd)]
        extra["top_trace_id"] = top_trace(db, project_id, versions, bounds)
    elif budget.period == "day":
        start, end = bounds.day_start, bounds.day_end
        spent, traces, unpriced = total.day_cost, total.day_traces, total.day_unpriced
        hourly = total.last24_cost / _elapsed(DAY_NS, total.week_first_ns, older, now_ns)
        forecast = spent + hourly * (ns(end) - now_ns)
    else:
        start, end = bounds.month_start, bounds.month_end
        spent, traces, unpriced = total.month_cost, total.month_traces, total.month_unpriced
        forecast = spent + daily * (ns(end) - now_ns) / DAY_NS
    if spent is not None and spent > budget.limit_usd:
        state = OVER
    elif forecast is not None and forecast > budget.limit_usd:
        state = FORECAST_OVER
    else:
        state = OK
    return BudgetStatus(
        budget.id, budget.agent, budget.period, budget.limit_usd, start, end, spent, traces,
        unpriced, daily, forecast, state, **extra,
    )  # fmt: skip


def _elapsed(window_ns: int, first_ns: int | None, older: bool, now_ns: int) -> int:
    """What a trailing window's spend is divided by: the window, or the time since the
    scope's first trace when that is shorter (``older``: a trace before the week)."""
    if older or first_ns is None:
        return window_ns
    return min(window_ns, max(now_ns - first_ns, MIN_ELAPSED_NS))


def _max(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else max(a, b)


# Queries -----------------------------------------------------------------------------


def version_sums(db: Db, project_id: int, bounds: Bounds, limits: Sequence[float]) -> Versions:
    """Each agent version's figures over the month and the trailing week, in one pass
    over the traces from the earlier of the two up to ``now``.

    PostgreSQL groups the project's range at once. SQLite reads each agent version's
    range on its own (a UNION ALL of them), since its rows of one version are adjacent
    in the index only within that version.
    """
    columns = _aggregates(bounds, limits)
    low = min(ns(bounds.month_start), bounds.week_start_ns)
    window = [Trace.start_time_ns >= low, Trace.start_time_ns <= bounds.now_ns]
    if _dialect(db) == "postgresql":
        statement = (
            sa.select(Trace.agent_name, Trace.agent_version, *columns)
            .where(Trace.project_id == project_id, *window)
            .group_by(Trace.agent_name, Trace.agent_version)
        )
        return {
            (row.agent_name, row.agent_version): Sums.of(row, len(limits))
            for row in db.execute(statement)
        }
    found: Versions = {}
    keys = iter(agent_versions(db, project_id))
    while chunk := list(islice(keys, SLICES_PER_STATEMENT)):
        parts = [
            sa.select(sa.literal(index).label("slice"), *columns).where(
                *of_group(project_id, agent, version), *window
            )
            for index, (agent, version) in enumerate(chunk)
        ]
        for row in db.execute(sa.union_all(*parts)):
            if row.month_traces or row.week_first is not None:
                found[chunk[row.slice]] = Sums.of(row, len(limits))
    return found


def _aggregates(bounds: Bounds, limits: Sequence[float]) -> list[sa.ColumnElement[Any]]:
    """:class:`Sums`' fields as aggregates, each over its part of the window."""
    start = Trace.start_time_ns
    month = start >= ns(bounds.month_start)
    day = start >= ns(bounds.day_start)
    week = start >= bounds.week_start_ns
    last24 = start >= bounds.last24_start_ns
    unpriced = Trace.unpriced_count > 0

    def count_where(condition: Condition) -> sa.ColumnElement[int]:
        return sa.func.count(sa.case((condition, 1)))

    def cost_where(condition: Condition) -> sa.ColumnElement[float]:
        return sa.func.sum(sa.case((condition, Trace.cost_usd)))

    return [
        count_where(month).label("month_traces"),
        count_where(sa.and_(month, unpriced)).label("month_unpriced"),
        cost_where(month).label("month_cost"),
        sa.func.max(sa.case((month, Trace.cost_usd))).label("month_max"),
        count_where(day).label("day_traces"),
        count_where(sa.and_(day, unpriced)).label("day_unpriced"),
        cost_where(day).label("day_cost"),
        cost_where(week).label("week_cost"),
        sa.func.min(sa.case((week, start))).label("week_first"),
        cost_where(last24).label("last24_cost"),
        *(
            count_where(sa.and_(month, Trace.cost_usd > limit)).label(f"over_{index}")
            for index, limit in enumerate(limits)
        ),
    ]


def agent_versions(db: Db, project_id: int) -> list[tuple[str | None, str | None]]:
    """Every (agent, version) of the project: SQLite seeks from one to the next in the
    analytics index (as ``figures.agent_versions``, which takes a session only)."""
    statement = (
        sa.select(Trace.agent_name, Trace.agent_version)
        .where(Trace.project_id == project_id)
        .distinct()
    )
    return [(agent, version) for agent, version in db.execute(statement)]


def has_older(db: Db, project_id: int, agent: str | None, bounds: Bounds) -> bool:
    """Whether the scope (the project, or one agent) has a trace from before the trailing
    week: then its rates are taken over whole windows.

    Ordered as an index is, so that the database walks it and stops at the first such
    trace: the time index for a project; for an agent the analytics index, which holds
    its versions one after another (left to choose, PostgreSQL scanned the table, which
    for a new agent means every trace of every project).
    """
    conditions = [Trace.project_id == project_id, Trace.start_time_ns < bounds.week_start_ns]
    order: list[sa.ColumnElement[Any]] = [Trace.start_time_ns]
    if agent is not None:
        conditions.append(Trace.agent_name == agent)
        order.insert(0, Trace.agent_version)
    statement = sa.select(Trace.start_time_ns).where(*conditions).order_by(*order).limit(1)
    return db.execute(statement).first() is not None


def top_trace(db: Db, project_id: int, versions: Versions, bounds: Bounds) -> str | None:
    """The trace id of the scope's most expensive trace this month (the lowest id among
    equals): one range of the index, in the agent version that holds the maximum."""
    priced = [(sums.month_max, key) for key, sums in versions.items() if sums.month_max is not None]
    if not priced:
        return None
    cost, (agent, version) = max(priced, key=lambda pair: pair[0])
    statement = (
        sa.select(Trace.trace_id)
        .where(
            *of_group(project_id, agent, version),
            Trace.start_time_ns >= ns(bounds.month_start),
            Trace.start_time_ns <= bounds.now_ns,
            Trace.cost_usd == cost,
        )
        .order_by(Trace.trace_id)
        .limit(1)
    )
    return db.execute(statement).scalar()


def _dialect(db: Db) -> str:
    bind = db.get_bind() if isinstance(db, Session) else db
    return bind.dialect.name
