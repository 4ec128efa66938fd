"""The batch runner: a suite's selection, chunk by chunk, through its evaluators, into scores.

A run is started (its row written, status ``running``) apart from being executed, so
the API can answer with the run's id at once and execute it in the background. Scores
are written after each chunk in their own transaction: a run that dies keeps what it
scored and is marked ``error`` with the reason. The verdict (``passed`` when every
threshold held, else ``failed``) is decided once, from the whole run's tallies; the
finished run is then checked against its suite's alert rules (``evals/alerts/runs.py``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from evals import frames
from evals.alerts.runs import alert_on_run_safely
from evals.evaluators import evaluator_class
from evals.evaluators.base import SCORE_COLUMNS, Evaluator, RunContext
from evals.pipeline import AsyncLane, can_use_processes, open_stages
from evals.selection import trace_filter
from evals.suite import Suite
from evals.summary import EvaluatorTally, SelectionTally, threshold_checks
from store import evals as store_evals
from store.projects import ensure_projects
from store.queries import TraceFilter

CHUNK_TRACES = 2000
# A run of this many chunks or more reads and writes in processes of its own
# (evals/pipeline.py); below it, starting them costs more than they save.
PROCESS_CHUNKS = 4

Progress = Callable[[int, int], None]  # (traces done, traces selected)


@dataclass(frozen=True, slots=True)
class StartedRun:
    run_id: int
    suite_id: int
    project_id: int
    start_ns: int  # "now" for the selection's ages (since: 24h)


@dataclass(frozen=True, slots=True)
class RunResult:
    run_id: int
    status: str  # passed | failed
    summary: dict[str, Any]

    @property
    def passed(self) -> bool:
        return self.status == "passed"


class RunError(RuntimeError):
    """An evaluator or the database failed mid-run; the run is stored as ``error``."""

    def __init__(self, run_id: int, message: str) -> None:
        super().__init__(message)
        self.run_id = run_id


def start_run(engine: sa.Engine, suite: Suite) -> StartedRun:
    """Store the suite (create or update it by name) and a ``running`` run of it."""
    project = suite.select.project
    with engine.begin() as connection:
        project_id = ensure_projects(connection, [project])[project]
        suite_id = store_evals.save_suite(
            connection, project, suite.name, suite.source, suite.schedule
        )
        run_id = store_evals.start_run(connection, suite_id, suite.source)
    return StartedRun(run_id, suite_id, project_id, time.time_ns())


def execute_run(
    engine: sa.Engine,
    suite: Suite,
    started: StartedRun,
    *,
    progress: Progress | None = None,
    chunk_traces: int = CHUNK_TRACES,
    processes: bool | None = None,
    selection: TraceFilter | None = None,
    judge_budget_usd: float | None = None,
) -> RunResult:
    """Score the selection and finish the run; :class:`RunError` if it could not.

    ``processes`` forces reading and writing in processes (True) or in line (False);
    by default a run of ``PROCESS_CHUNKS`` chunks or more uses them. ``selection``
    replaces the suite's own (an online suite's window); ``judge_budget_usd`` caps
    what its LLM judge spends.
    """
    began = time.perf_counter()
    try:
        evaluators = [evaluator_class(spec.name)(spec.options) for spec in suite.evaluators]
        selected = trace_filter(suite.select, now_ns=started.start_ns)
        with engine.connect() as connection:
            if selection is None:
                selection = selected
            ids = frames.selected_ids(connection, selection)
        context = RunContext(
            engine,
            started.project_id,
            suite.select.project,
            selection,
            started.start_ns,
            judge_budget_usd,
        )
        for evaluator in evaluators:
            evaluator.setup(context)
        tallies = {ev.name: EvaluatorTally(ev.metric) for ev in evaluators}
        selection = SelectionTally()
        if progress:
            progress(0, len(ids))
        timings = Timings({ev.name: 0.0 for ev in evaluators})
        if processes is None:
            processes = len(ids) >= PROCESS_CHUNKS * chunk_traces
        reading, writing = open_stages(
            engine,
            ids,
            size=chunk_traces,
            span_columns=set().union(*(ev.span_columns for ev in evaluators)),
            logs=any(ev.reads_logs for ev in evaluators),
            project_id=started.project_id,
            run_id=started.run_id,
            processes=processes and can_use_processes(engine),
        )
        lane = AsyncLane()
        try:
            for chunk in reading:
                columns = _score_chunk(lane, evaluators, chunk, tallies, timings)
                writing.submit(columns)
                selection.add(chunk.traces, _failed(columns))
                if progress:
                    progress(selection.traces, len(ids))
            writing.drain()
        finally:
            reading.close()
            writing.close()
            lane.close()
        timings.read_s, timings.write_s = reading.busy_s, writing.busy_s
        figures = {name: tally.figures() for name, tally in tallies.items()}
        for evaluator in evaluators:
            figures[evaluator.name]["extra"] = evaluator.finish()
        checks = threshold_checks(suite.thresholds, figures)
        status = "passed" if all(check["held"] for check in checks) else "failed"
        summary = {
            "evaluators": figures,
            "thresholds": checks,
            "selection": selection.figures(),
            "duration_s": round(time.perf_counter() - began, 3),
            "timings": timings.figures(),
        }
    except Exception as error:
        message = f"{type(error).__name__}: {error}"
        with engine.begin() as connection:
            store_evals.finish_run(connection, started.run_id, "error", None, None, message)
        raise RunError(started.run_id, message) from error
    with engine.begin() as connection:
        finished = store_evals.finish_run(connection, started.run_id, status, len(ids), summary)
    if not finished:  # ended meanwhile from elsewhere: its worker's lease was taken over
        raise RunError(started.run_id, "the run was ended elsewhere before it finished")
    alert_on_run_safely(engine, started.run_id)
    return RunResult(started.run_id, status, summary)


def run_suite(engine: sa.Engine, suite: Suite, *, progress: Progress | None = None) -> RunResult:
    return execute_run(engine, suite, start_run(engine, suite), progress=progress)


@dataclass(slots=True)
class Timings:
    """Where a run's time went: each evaluator, and reading and writing (which overlap
    the scoring when they run in their own processes)."""

    score_s: dict[str, float]
    read_s: float = 0.0
    write_s: float = 0.0

    def figures(self) -> dict[str, Any]:
        return {
            "read_s": round(self.read_s, 3),
            "write_s": round(self.write_s, 3),
            "score_s": {name: round(seconds, 3) for name, seconds in self.score_s.items()},
        }


def _score_chunk(
    lane: AsyncLane,
    evaluators: list[Evaluator],
    chunk: frames.Chunk,
    tallies: dict[str, EvaluatorTally],
    timings: Timings,
) -> dict[str, list[Any]]:
    """Every evaluator's scores of the chunk, as columns of ``store.evals.SCORE_FIELDS``."""
    chunk = replace(chunk, earlier={})
    columns: dict[str, list[Any]] = {name: [] for name in store_evals.SCORE_FIELDS}
    for evaluator in evaluators:
        mark = time.perf_counter()
        if type(evaluator).score_async is not Evaluator.score_async:
            scores = lane.run(evaluator.score_async(chunk))
        else:
            scores = evaluator.score(chunk)
        timings.score_s[evaluator.name] += time.perf_counter() - mark
        _check(evaluator, scores, chunk)
        chunk.earlier[evaluator.name] = scores
        tallies[evaluator.name].add(scores)
        for name, values in _score_columns(evaluator.name, scores).items():
            columns[name] += values
    return columns


def _failed(columns: dict[str, list[Any]]) -> set[str]:
    """The traces of a chunk's scores that some evaluator failed."""
    return {
        trace for trace, passed in zip(columns["trace_id"], columns["passed"], strict=True)
        if passed is False
    }  # fmt: skip


def _check(evaluator: Evaluator, scores: pd.DataFrame, chunk: frames.Chunk) -> None:
    """An evaluator's rows are the runner's contract with the pages: refuse bad ones
    loudly rather than store them."""
    missing = set(SCORE_COLUMNS) - set(scores.columns)
    if missing:
        raise TypeError(f"{evaluator.name} returned no {sorted(missing)} column")
    verdicts = scores.loc[scores["metric"] == evaluator.metric, "trace_id"]
    if verdicts.duplicated().any():
        raise ValueError(f"{evaluator.name} gave a trace two {evaluator.metric} verdicts")
    strangers = set(scores["trace_id"]) - set(chunk.traces["trace_id"])
    if strangers:
        raise ValueError(f"{evaluator.name} scored traces not in its chunk")


def _score_columns(name: str, scores: pd.DataFrame) -> dict[str, list[Any]]:
    """Score columns for the store, converted whole (NaN and infinities to None, numpy
    scalars to Python ones)."""
    value = pd.to_numeric(scores["value"], errors="coerce").astype(float)
    value = value.where(np.isfinite(value))
    passed = scores["passed"].map(_VERDICTS)
    return {
        "trace_id": scores["trace_id"].astype(str).tolist(),
        "evaluator": [name] * len(scores),
        "metric": scores["metric"].astype(str).tolist(),
        "value": value.astype(object).where(value.notna(), None).tolist(),
        "label": _texts(scores["label"]),
        "passed": passed.astype(object).where(passed.notna(), None).tolist(),
        "explanation": _texts(scores["explanation"]),
        "span_id": _texts(scores["span_id"]),
        "details": [item if isinstance(item, dict) else None for item in scores["details"]],
    }


_VERDICTS = {True: True, False: False}


def _texts(column: pd.Series) -> list[str | None]:
    texts = column.astype(str).astype(object)
    texts[column.isna()] = None
    return texts.tolist()
