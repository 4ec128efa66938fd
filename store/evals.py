"""Writing and reading eval suites, runs and scores (``store/models/evals.py``).

The runner (``evals/``) owns what a score means; this module only keeps them. Scores
are written in bulk as a run goes, in the caller's transaction, so a run that dies
leaves its scores so far and a run row marked ``running`` that says it never finished.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from functools import cache
from itertools import repeat
from operator import itemgetter
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Dialect

from store import dialect
from store.models import EvalRun, EvalSuite, Score
from store.projects import ensure_projects
from store.types import to_json

RUN_STATUSES = ("running", "passed", "failed", "error")
SCORE_SOURCES = ("eval", "human", "agent")


@dataclass(frozen=True, slots=True)
class NewScore:
    trace_id: str
    evaluator: str
    metric: str
    value: float | None = None
    label: str | None = None
    passed: bool | None = None
    explanation: str | None = None
    span_id: str | None = None
    details: dict[str, Any] | None = None


SCORE_FIELDS = tuple(field.name for field in fields(NewScore))


def save_suite(
    connection: Connection, project: str, name: str, definition: str, schedule: str | None
) -> int:
    """Create the suite or replace its definition; its id either way.

    A changed schedule drops the next run the scheduler had placed: it places the new
    schedule's next slot when it next looks.
    """
    project_id = ensure_projects(connection, [project])[project]
    now = datetime.now(UTC)
    table = EvalSuite.__table__
    statement = dialect.insert(connection, table)
    same_schedule = table.c.schedule == statement.excluded.schedule
    statement = statement.on_conflict_do_update(
        index_elements=["project_id", "name"],
        set_={
            "definition": definition,
            "schedule": schedule,
            "updated_at": now,
            "next_run_at": sa.case((same_schedule, table.c.next_run_at), else_=None),
        },
    )
    connection.execute(
        statement,
        {
            "project_id": project_id,
            "name": name,
            "definition": definition,
            "schedule": schedule,
            "created_at": now,
            "updated_at": now,
        },
    )
    return int(
        connection.execute(
            sa.select(EvalSuite.id).where(
                EvalSuite.project_id == project_id, EvalSuite.name == name
            )
        ).scalar_one()
    )


def start_run(connection: Connection, suite_id: int, definition: str) -> int:
    project_id = connection.execute(
        sa.select(EvalSuite.project_id).where(EvalSuite.id == suite_id)
    ).scalar_one()
    return int(
        connection.execute(
            sa.insert(EvalRun)
            .values(
                project_id=project_id,
                suite_id=suite_id,
                status="running",
                definition=definition,
                started_at=datetime.now(UTC),
            )
            .returning(EvalRun.id)
        ).scalar_one()
    )


def add_scores(
    connection: Connection,
    project_id: int,
    scores: Sequence[NewScore],
    run_id: int | None = None,
    source: str = "eval",
) -> int:
    return add_score_rows(
        connection,
        project_id,
        [{name: getattr(score, name) for name in SCORE_FIELDS} for score in scores],
        run_id=run_id,
        source=source,
    )


def add_score_rows(
    connection: Connection,
    project_id: int,
    rows: Sequence[dict[str, Any]],
    run_id: int | None = None,
    source: str = "eval",
) -> int:
    """Scores as plain mappings of :data:`SCORE_FIELDS`."""
    columns = {name: [row[name] for row in rows] for name in SCORE_FIELDS}
    return add_score_columns(connection, project_id, columns, run_id=run_id, source=source)


def add_score_columns(
    connection: Connection,
    project_id: int,
    columns: dict[str, list[Any]],
    run_id: int | None = None,
    source: str = "eval",
) -> int:
    """Scores as columns (a list per field of :data:`SCORE_FIELDS`), bound through the
    driver.

    A run writes a row per trace and metric (a million for a large selection): the
    statement is compiled once and the values go to the driver as they are, with the
    two that need a type's processing (the shared time, ``details`` as JSON) processed
    here once, not per value by SQLAlchemy.
    """
    if source not in SCORE_SOURCES:
        raise ValueError(f"score source must be one of {SCORE_SOURCES}, not {source!r}")
    count = len(columns["trace_id"])
    if not count:
        return 0
    sql, order = _score_insert(connection.dialect)
    created_at = _bind(connection.dialect, "created_at", datetime.now(UTC))
    details = [None if item is None else to_json(item) for item in columns["details"]]
    values = zip(
        repeat(project_id),
        repeat(run_id),
        repeat(source),
        repeat(created_at),
        *(columns[name] for name in SCORE_FIELDS[:-1]),
        details,
        strict=False,
    )
    if order is None:
        connection.exec_driver_sql(sql, [dict(zip(_INSERT, row, strict=True)) for row in values])
    else:
        connection.exec_driver_sql(sql, [order(row) for row in values])
    return count


_INSERT = ("project_id", "run_id", "source", "created_at", *SCORE_FIELDS)


@cache
def _score_insert(
    connection_dialect: Dialect,
) -> tuple[str, Callable[[tuple[Any, ...]], Any] | None]:
    """The compiled INSERT, and for a positional driver the reordering of an ``_INSERT``
    tuple into the statement's parameter order."""
    # for_executemany: a single-row compile would add RETURNING id.
    compiled = sa.insert(Score).compile(
        dialect=connection_dialect, column_keys=list(_INSERT), for_executemany=True
    )
    if not compiled.positional:
        return str(compiled), None
    positions = [_INSERT.index(name) for name in compiled.positiontup or ()]
    return str(compiled), itemgetter(*positions)


def _bind(connection_dialect: Dialect, column: str, value: Any) -> Any:
    processor = (
        Score.__table__.c[column]
        .type.dialect_impl(connection_dialect)
        .bind_processor(connection_dialect)
    )
    return processor(value) if processor else value


def finish_run(
    connection: Connection,
    run_id: int,
    status: str,
    selection_size: int | None,
    summary: dict[str, Any] | None,
    error: str | None = None,
) -> bool:
    """Store the run's end, once: False when it had ended already (a worker that lost its
    lease to another finds its run stored as an error and must not overwrite it)."""
    if status not in RUN_STATUSES[1:]:
        raise ValueError(f"a finished run is passed, failed or error, not {status!r}")
    result = connection.execute(
        sa.update(EvalRun)
        .where(EvalRun.id == run_id, EvalRun.status == "running")
        .values(
            status=status,
            selection_size=selection_size,
            summary=summary,
            error=error,
            finished_at=datetime.now(UTC),
        )
    )
    return result.rowcount == 1


def run_scores(connection: Connection, run_id: int) -> list[Score]:
    """The run's scores in a stable order: evaluator, trace, span, metric."""
    rows = connection.execute(
        sa.select(Score)
        .where(Score.run_id == run_id)
        .order_by(Score.evaluator, Score.trace_id, Score.span_id, Score.metric, Score.id)
    )
    return [Score(**row._mapping) for row in rows]


@dataclass(frozen=True, slots=True)
class StoredSuite:
    name: str
    definition: str
    scored_until_ns: int | None
    updated_at: datetime  # when its definition was last saved


def stored_suite(connection: Connection, suite_id: int) -> StoredSuite | None:
    row = connection.execute(
        sa.select(
            EvalSuite.name, EvalSuite.definition, EvalSuite.scored_until_ns, EvalSuite.updated_at
        ).where(EvalSuite.id == suite_id)
    ).first()
    return None if row is None else StoredSuite(*row)


def set_scored_until(
    connection: Connection, suite_id: int, until_ns: int, *, seen: int | None
) -> bool:
    """Move an online suite's window on from ``seen``, the mark its run started from;
    False (and no change) when another run moved it meanwhile, or it would go back."""
    still = (
        EvalSuite.scored_until_ns.is_(None) if seen is None else EvalSuite.scored_until_ns == seen
    )
    result = connection.execute(
        sa.update(EvalSuite)
        .where(
            EvalSuite.id == suite_id,
            still,
            sa.literal(until_ns) >= sa.func.coalesce(EvalSuite.scored_until_ns, until_ns),
        )
        .values(scored_until_ns=until_ns)
    )
    return result.rowcount == 1


def run_summaries_since(
    connection: Connection, suite_id: int, since: datetime
) -> list[dict[str, Any]]:
    """The summaries of the suite's runs that started since ``since`` (finished ones)."""
    rows = connection.execute(
        sa.select(EvalRun.summary).where(
            EvalRun.suite_id == suite_id,
            EvalRun.started_at >= since,
            EvalRun.summary.is_not(None),
        )
    )
    return [summary for (summary,) in rows]
