"""Reading eval suites, runs and scores for the API and the dashboard.

Writing lives in ``store/evals.py`` (the runner's side) and ``store/feedback.py``;
these are the pages' queries: suites with their latest run, a suite's runs and a run's
scores a page at a time (keyset cursors, as ``store/queries.py`` encodes them), and a
run's score values binned for a histogram in the database, so a run of 100,000 traces
is never read into the web process to draw a chart.
"""

from __future__ import annotations

import base64
import binascii
import math
from dataclasses import dataclass

import orjson
import sqlalchemy as sa
from sqlalchemy.orm import Session

from store.models import EvalRun, EvalSuite, Project, Score, Span, Trace
from store.queries import InvalidCursor, decode_cursor, encode_cursor

# A histogram of integers (steps, tool calls) gets one bar per value up to this many.
MAX_INTEGER_BARS = 30


@dataclass(frozen=True, slots=True)
class SuiteRecord:
    suite: EvalSuite
    project: str
    last_run: EvalRun | None  # the most recently started run, whatever its status
    run_count: int


@dataclass(frozen=True, slots=True)
class RunRecord:
    run: EvalRun
    suite_name: str
    project: str
    baseline_run_id: int | None  # the suite's chosen baseline, if any


@dataclass(frozen=True, slots=True)
class RunPage:
    runs: list[EvalRun]  # newest first
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class ScoreRow:
    score: Score
    trace_name: str | None
    trace_status: str | None  # None when the trace is no longer stored


@dataclass(frozen=True, slots=True)
class ScorePage:
    rows: list[ScoreRow]  # in the order they were written
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class Bucket:
    """Values in ``[low, high)`` (the last bucket includes ``high``), by verdict."""

    low: float
    high: float
    passed: int
    failed: int
    not_applicable: int


@dataclass(frozen=True, slots=True)
class Histogram:
    evaluator: str
    metric: str
    integral: bool  # every value is a whole number: buckets are whole numbers too
    buckets: list[Bucket]

    @property
    def values(self) -> int:
        return sum(b.passed + b.failed + b.not_applicable for b in self.buckets)


def list_suites(session: Session, project_id: int | None = None) -> list[SuiteRecord]:
    """Suites by name (in one project, or all), each with its latest run."""
    latest = sa.select(
        EvalRun.suite_id,
        sa.func.max(EvalRun.id).label("run_id"),
        sa.func.count().label("runs"),
    ).group_by(EvalRun.suite_id)
    suites = sa.select(EvalSuite, Project.name).join(Project, Project.id == EvalSuite.project_id)
    if project_id is not None:
        latest = latest.where(EvalRun.project_id == project_id)
        suites = suites.where(EvalSuite.project_id == project_id)
    last = latest.subquery("last")
    query = (
        suites.add_columns(EvalRun, sa.func.coalesce(last.c.runs, 0))
        .outerjoin(last, last.c.suite_id == EvalSuite.id)
        .outerjoin(EvalRun, EvalRun.id == last.c.run_id)
        .order_by(Project.name, EvalSuite.name)
    )
    return [
        SuiteRecord(suite, project, run, int(count))
        for suite, project, run, count in session.execute(query).all()
    ]


def get_suite(session: Session, suite_id: int) -> SuiteRecord | None:
    row = session.execute(
        sa.select(EvalSuite, Project.name)
        .join(Project, Project.id == EvalSuite.project_id)
        .where(EvalSuite.id == suite_id)
    ).one_or_none()
    if row is None:
        return None
    suite, project = row
    count = session.scalar(
        sa.select(sa.func.count()).select_from(EvalRun).where(EvalRun.suite_id == suite_id)
    )
    last = session.scalars(
        sa.select(EvalRun).where(EvalRun.suite_id == suite_id).order_by(EvalRun.id.desc()).limit(1)
    ).first()
    return SuiteRecord(suite, project, last, int(count or 0))


def suite_runs(
    session: Session, suite_id: int, *, limit: int = 50, cursor: str | None = None
) -> RunPage:
    """The suite's runs, newest first, ``limit`` at a time."""
    query = sa.select(EvalRun).where(EvalRun.suite_id == suite_id)
    if cursor is not None:
        query = query.where(EvalRun.id < _cursor_id(cursor))
    runs = list(session.scalars(query.order_by(EvalRun.id.desc()).limit(limit + 1)))
    more = len(runs) > limit
    runs = runs[:limit]
    return RunPage(runs, encode_cursor(runs[-1].id, runs[-1].id) if more else None)


def recent_runs(session: Session, project_id: int, *, limit: int = 20) -> list[RunRecord]:
    """The project's latest runs, of every suite, newest first."""
    query = (
        _run_query()
        .where(EvalRun.project_id == project_id)
        .order_by(EvalRun.id.desc())
        .limit(limit)
    )
    return [RunRecord(*row) for row in session.execute(query).all()]


def get_run(session: Session, run_id: int) -> RunRecord | None:
    row = session.execute(_run_query().where(EvalRun.id == run_id)).one_or_none()
    return None if row is None else RunRecord(*row)


def _run_query() -> sa.Select[tuple[EvalRun, str, str, int | None]]:
    return (
        sa.select(EvalRun, EvalSuite.name, Project.name, EvalSuite.baseline_run_id)
        .join(EvalSuite, EvalSuite.id == EvalRun.suite_id)
        .join(Project, Project.id == EvalRun.project_id)
    )


def previous_run_id(session: Session, run: EvalRun) -> int | None:
    """The suite's run before this one: what "compare with the previous run" means."""
    return session.scalar(
        sa.select(sa.func.max(EvalRun.id)).where(
            EvalRun.suite_id == run.suite_id, EvalRun.id < run.id
        )
    )


def run_scores(
    session: Session,
    run: EvalRun,
    *,
    evaluator: str | None = None,
    failed_only: bool = False,
    limit: int = 100,
    cursor: str | None = None,
) -> ScorePage:
    """One page of a run's scores, with the name and status of each score's trace.

    Ordered by evaluator, then as written (id): the order of ``ix_scores_run_id_evaluator_id``
    (whose entries SQLite keeps in rowid order), so a page reads only its own rows
    rather than sorting the run's million. ``failed_only`` keeps verdicts that did not
    pass.
    """
    query = (
        sa.select(Score, Trace.name, Trace.status)
        .outerjoin(
            Trace, sa.and_(Trace.project_id == Score.project_id, Trace.trace_id == Score.trace_id)
        )
        .where(Score.run_id == run.id)
    )
    if evaluator is not None:
        query = query.where(Score.evaluator == evaluator)
    if failed_only:
        query = query.where(Score.passed.is_(False))
    if cursor is not None:
        after_evaluator, after_id = _score_cursor(cursor)
        query = query.where(
            sa.or_(
                Score.evaluator > after_evaluator,
                sa.and_(Score.evaluator == after_evaluator, Score.id > after_id),
            )
        )
    rows = session.execute(query.order_by(Score.evaluator, Score.id).limit(limit + 1)).all()
    more = len(rows) > limit
    page = [ScoreRow(score, name, status) for score, name, status in rows[:limit]]
    last = page[-1].score if page else None
    next_cursor = _encode(last.evaluator, last.id) if more and last is not None else None
    return ScorePage(page, next_cursor)


def score_histogram(
    session: Session, run_id: int, evaluator: str, metric: str, *, bins: int = 20
) -> Histogram:
    """The values of one evaluator's ``metric`` in a run, in at most ``bins`` buckets
    (one per whole number when the values are few whole numbers), split by verdict."""
    values = sa.and_(
        Score.run_id == run_id,
        Score.evaluator == evaluator,
        Score.metric == metric,
        Score.value.is_not(None),
    )
    fractional = sa.case((Score.value == sa.func.round(Score.value), 0), else_=1)
    low, high, count, fractions = session.execute(
        sa.select(
            sa.func.min(Score.value),
            sa.func.max(Score.value),
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(fractional), 0),
        ).where(values)
    ).one()
    if not count:
        return Histogram(evaluator, metric, integral=False, buckets=[])
    integral = not fractions
    edges = _edges(float(low), float(high), integral, bins)
    # Bucket i holds edges[i] <= value < edges[i + 1]; the last also holds the maximum.
    bucket = (
        sa.case(
            *((Score.value < edge, index) for index, edge in enumerate(edges[1:-1])),
            else_=len(edges) - 2,
        )
        if len(edges) > 2
        else sa.literal(0)
    )
    inner = sa.select(bucket.label("bucket"), Score.passed.label("passed")).where(values)
    binned = inner.subquery("binned")
    counts = session.execute(
        sa.select(binned.c.bucket, binned.c.passed, sa.func.count()).group_by(
            binned.c.bucket, binned.c.passed
        )
    ).all()
    tally = [[0, 0, 0] for _ in edges[1:]]
    for index, passed, n in counts:
        column = 2 if passed is None else 0 if passed else 1
        tally[int(index)][column] += int(n)
    buckets = [Bucket(edges[i], edges[i + 1], *tally[i]) for i in range(len(edges) - 1)]
    return Histogram(evaluator, metric, integral, buckets)


def _edges(low: float, high: float, integral: bool, bins: int) -> list[float]:
    if integral and high - low < MAX_INTEGER_BARS:
        return [low + step for step in range(int(high - low) + 2)]
    if high == low:
        return [low, high]
    width = (high - low) / bins
    if integral:
        width = float(math.ceil(width))
        count = int((high - low) // width) + 1  # the maximum opens the last bucket
        return [low + step * width for step in range(count + 1)]
    return [low + step * width for step in range(bins)] + [high]


def _encode(evaluator: str, row_id: int) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([evaluator, row_id])).decode().rstrip("=")


def _score_cursor(cursor: str) -> tuple[str, int]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        evaluator, row_id = orjson.loads(base64.urlsafe_b64decode(padded))
    except (ValueError, TypeError, binascii.Error, orjson.JSONDecodeError):
        raise InvalidCursor(f"invalid cursor {cursor[:40]!r}") from None
    if not isinstance(evaluator, str) or not isinstance(row_id, int) or isinstance(row_id, bool):
        raise InvalidCursor(f"invalid cursor {cursor[:40]!r}")
    return evaluator, row_id


def _cursor_id(cursor: str) -> int:
    value, row_id = decode_cursor(cursor)
    if value != row_id:
        raise InvalidCursor(f"invalid cursor {cursor[:40]!r}")
    return row_id


def trace_projects(
    session: Session, trace_id: str, project: str | None = None
) -> list[tuple[str, int]]:
    """(name, id) of every project that stores this trace id, or only the named one."""
    query = (
        sa.select(Project.name, Project.id)
        .join(Trace, Trace.project_id == Project.id)
        .where(Trace.trace_id == trace_id)
        .order_by(Project.name)
    )
    if project is not None:
        query = query.where(Project.name == project)
    else:
        # As in store.queries.get_trace: naming every project lets the (project_id,
        # trace_id) index serve one lookup per project instead of a scan.
        query = query.where(Trace.project_id.in_(sa.select(Project.id)))
    return [(name, int(found)) for name, found in session.execute(query).all()]


def span_exists(session: Session, project_id: int, trace_id: str, span_id: str) -> bool:
    return (
        session.scalar(
            sa.select(Span.id).where(
                Span.project_id == project_id, Span.trace_id == trace_id, Span.span_id == span_id
            )
        )
        is not None
    )
