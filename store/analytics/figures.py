"""What the overview and compare share: time windows, the summable figures of a set of
traces, and their latency percentiles."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import sqlalchemy as sa
from sqlalchemy.orm import Session

from store.models import Trace
from store.vocabulary import Status

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
    # Traces whose task failed: the agent said so (outcome), or it said nothing and
    # the trace errored. Success is what the agent reports first, the status second.
    failures: int = 0
    escalations: int = 0
    priced: int = 0  # traces that have a cost
    unpriced: int = 0  # traces with a model call that no price covers (cost unknown)
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
        return self.traces - self.failures

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    @property
    def steps(self) -> int:
        return self.llm_calls + self.tool_calls

    @property
    def error_rate(self) -> float | None:
        return ratio(self.errors, self.traces)

    @property
    def success_rate(self) -> float | None:
        return ratio(self.successes, self.traces)

    @property
    def escalation_rate(self) -> float | None:
        return ratio(self.escalations, self.traces)

    @property
    def cost(self) -> float | None:
        """Known cost; None when no trace reported one (unknown is not $0)."""
        return self.cost_usd if self.priced else None

    @property
    def cost_per_trace(self) -> float | None:
        return ratio(self.cost_usd, self.priced)

    @property
    def cost_per_success(self) -> float | None:
        """Cost per outcome: what a successful trace costs, failures' spend included.
        Unknown while any trace has an unpriced call (never understated as if $0)."""
        return ratio(self.cost_usd, self.successes) if self.priced and not self.unpriced else None

    @property
    def tokens_per_trace(self) -> float | None:
        return ratio(self.tokens, self.traces)

    @property
    def steps_per_trace(self) -> float | None:
        return ratio(self.steps, self.traces)

    @property
    def llm_calls_per_trace(self) -> float | None:
        return ratio(self.llm_calls, self.traces)

    @property
    def tool_calls_per_trace(self) -> float | None:
        return ratio(self.tool_calls, self.traces)


_ADDITIVE = (
    "traces", "errors", "failures", "escalations", "priced", "unpriced", "cost_usd",
    "input_tokens", "output_tokens", "llm_calls", "tool_calls",
)  # fmt: skip


FAILED = sa.or_(
    Trace.outcome == "failure",
    sa.and_(Trace.outcome.is_(None), Trace.status == Status.ERROR.value),
)


def ratio(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def stat_columns() -> list[sa.ColumnElement[Any]]:
    """The additive part of :class:`Stats`, as aggregates labelled like its fields."""

    def count_where(condition: Condition) -> sa.ColumnElement[int]:
        return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)

    def total(column: sa.ColumnElement[int]) -> sa.ColumnElement[int]:
        return sa.func.coalesce(sa.func.sum(column), 0)

    return [
        sa.func.count().label("traces"),
        count_where(Trace.status == Status.ERROR.value).label("errors"),
        count_where(FAILED).label("failures"),
        count_where(Trace.escalated).label("escalations"),
        sa.func.count(Trace.cost_usd).label("priced"),
        count_where(Trace.unpriced_count > 0).label("unpriced"),
        sa.func.coalesce(sa.func.sum(Trace.cost_usd), 0.0).label("cost_usd"),
        total(Trace.input_tokens).label("input_tokens"),
        total(Trace.output_tokens).label("output_tokens"),
        total(Trace.llm_call_count).label("llm_calls"),
        total(Trace.tool_call_count).label("tool_calls"),
    ]


def stats_of(row: Any) -> Stats:
    """PostgreSQL sums bigints as numeric (Decimal in Python): back to int and float."""
    values = {name: int(getattr(row, name)) for name in _ADDITIVE if name != "cost_usd"}
    return Stats(**values, cost_usd=float(row.cost_usd))


def in_window(project_id: int, window: Window) -> list[Condition]:
    return [Trace.project_id == project_id, *between(window.since_ns, window.until_ns)]


# Percentiles ------------------------------------------------------------------------


def quantiles_ms(durations_ns: np.ndarray[Any, Any]) -> tuple[float, float]:
    """(p50, p95) in ms of a non-empty array, interpolated linearly like PostgreSQL's
    ``percentile_cont``."""
    low, high = np.percentile(durations_ns, [100 * q for q in QUANTILES])
    return float(low) / NS_PER_MS, float(high) / NS_PER_MS


def is_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


@contextmanager
def beside(session: Session, task: Callable[[Session], T]) -> Iterator[Future[T]]:
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


def of_group(project_id: int, agent: str | None, version: str | None) -> list[Condition]:
    return [
        Trace.project_id == project_id,
        Trace.agent_name.is_(None) if agent is None else Trace.agent_name == agent,
        Trace.agent_version.is_(None) if version is None else Trace.agent_version == version,
    ]


def fetch_tuples(session: Session, statement: sa.Select[Any]) -> list[tuple[Any, ...]]:
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


def between(low: int, high: int) -> list[Condition]:
    return [Trace.start_time_ns >= low, Trace.start_time_ns <= high]
