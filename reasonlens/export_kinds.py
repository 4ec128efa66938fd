"""What each ``reasonlens export KIND`` reads: the function behind its route, called
with the route's parameter model, so a file written here equals the download.

A kind's query string holds the route's query parameters and its path id by name
(``run_id``, ``suite_id``, ``b``, ``trace_id``). Each builder raises what the route
would answer (a validation error, :class:`BadParameter`, an ``HTTPException``);
``export_command`` turns that into exit 2 before any file is opened.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import sqlalchemy as sa
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from store import eval_reads
from store.times import BadParameter
from web import api_csv, api_eval_csv
from web.api_csv import SpanFilterParams, span_selection
from web.api_eval_compare import CompareCsvParams, compare_csv
from web.api_lists_csv import LISTS, AnyProjectParams
from web.drift_params import DriftParams, drift_report
from web.exports.reports import (
    COMPARE_COLUMNS,
    DRIFT_COLUMNS,
    SUMMARY_COLUMNS,
    compare_frame,
    drift_frame,
    frame_csv,
    run_summary_frame,
)
from web.exports.scores import score_csv
from web.exports.spans import span_csv
from web.exports.traces import trace_csv
from web.filters import TraceFilterParams, trace_selection
from web.pages.compare import comparison_of
from web.pages.overview import OverviewCsvParams, overview_table_csv
from web.pages.sessions import sessions_export

Query = list[tuple[str, str]]
Builder = Callable[[sa.Engine, Query], Iterator[bytes]]
ROW_ID = Field(ge=1, le=2**63 - 1)


class RunId(BaseModel):
    run_id: int = ROW_ID


class RunParams(RunId):
    """``scores``: which run, and which of its scores."""

    evaluator: str | None = Field(None, max_length=200)
    failed: bool = False


class NamedProject(BaseModel):
    """``sessions``: the project is required, as on ``/sessions.csv``."""

    project: str = Field(max_length=200)


class SuiteId(BaseModel):
    suite_id: int = ROW_ID


class SuiteDriftArgs(api_eval_csv.SuiteDriftParams):
    suite_id: int = ROW_ID


class EvalCompareArgs(CompareCsvParams):
    b: int = ROW_ID


class TraceScoresArgs(BaseModel):
    trace_id: str = Field(max_length=32)
    project: str = Field("default", max_length=200)


def _traces(engine: sa.Engine, query: Query) -> Iterator[bytes]:
    return trace_csv(engine, trace_selection(TraceFilterParams.model_validate(dict(query))))


def _spans(engine: sa.Engine, query: Query) -> Iterator[bytes]:
    return span_csv(engine, span_selection(SpanFilterParams.model_validate(dict(query))))


def _scores(engine: sa.Engine, query: Query) -> Iterator[bytes]:
    params = RunParams.model_validate(dict(query))
    record = _run(engine, params.run_id)
    return score_csv(
        engine, params.run_id, record.project, evaluator=params.evaluator, failed_only=params.failed
    )


def _summary(engine: sa.Engine, query: Query) -> Iterator[bytes]:
    params = RunId.model_validate(dict(query))
    record = _run(engine, params.run_id)
    frame = run_summary_frame(record.run, record.suite_name, record.project)
    return frame_csv(frame, SUMMARY_COLUMNS)


def _run(engine: sa.Engine, run_id: int) -> eval_reads.RunRecord:
    with Session(engine) as session:
        record = eval_reads.get_run(session, run_id)
    if record is None:
        raise BadParameter("run_id", f"no eval run {run_id}")
    return record


def _compare(engine: sa.Engine, query: Query) -> Iterator[bytes]:
    with Session(engine) as session:
        _, result = comparison_of(session, query)
    return frame_csv(compare_frame(result), COMPARE_COLUMNS)


def _drift(engine: sa.Engine, query: Query) -> Iterator[bytes]:
    with Session(engine) as session:
        report = drift_report(session, DriftParams.model_validate(dict(query)))
    return frame_csv(drift_frame(report), DRIFT_COLUMNS)


def _sessions(engine: sa.Engine, query: Query) -> Iterator[bytes]:
    params = NamedProject.model_validate(dict(query))
    with Session(engine) as session:
        return sessions_export(session, engine, params.project)


def _in_session(read: Callable[[Session, Query], Iterator[bytes]]) -> Builder:
    """A builder whose rows are read whole in one short session (the small reports)."""

    def build(engine: sa.Engine, query: Query) -> Iterator[bytes]:
        with Session(engine) as session:
            return read(session, query)

    return build


def _list(kind: str) -> Builder:
    export = LISTS[kind]

    def build(engine: sa.Engine, query: Query) -> Iterator[bytes]:
        params = export.params.model_validate(dict(query))
        with Session(engine) as session:
            return export.chunks(session, engine, params)

    return build


def _eval_compare(session: Session, query: Query) -> Iterator[bytes]:
    args = EvalCompareArgs.model_validate(dict(query))
    chunks, _ = compare_csv(session, args.b, args)
    return chunks


def _suite_drift(session: Session, query: Query) -> Iterator[bytes]:
    args = SuiteDriftArgs.model_validate(dict(query))
    return api_eval_csv.suite_drift_csv(session, args.suite_id, args)


def _trace_scores(session: Session, query: Query) -> Iterator[bytes]:
    args = TraceScoresArgs.model_validate(dict(query))
    return api_csv.trace_scores_csv(session, args.trace_id, args.project)


# KIND -> its builder; the README's table of exports names the route of each.
KINDS: dict[str, Builder] = {
    "traces": _traces,
    "spans": _spans,
    "scores": _scores,
    "summary": _summary,
    "compare": _compare,
    "drift": _drift,
    "sessions": _sessions,
    "suites": _in_session(
        lambda s, q: api_csv.suites_csv(s, AnyProjectParams.model_validate(dict(q)).project)
    ),
    "runs": _in_session(
        lambda s, q: api_csv.suite_runs_csv(s, SuiteId.model_validate(dict(q)).suite_id)
    ),
    "overview": _in_session(
        lambda s, q: overview_table_csv(s, OverviewCsvParams.model_validate(dict(q)))
    ),
    "eval-compare": _in_session(_eval_compare),
    "eval-runs": _in_session(
        lambda s, q: api_eval_csv.recent_runs_csv(
            s, api_eval_csv.RecentRunsParams.model_validate(dict(q))
        )
    ),
    "thresholds": _in_session(
        lambda s, q: api_eval_csv.thresholds_csv(s, RunId.model_validate(dict(q)).run_id)
    ),
    "run-drift": _in_session(
        lambda s, q: api_eval_csv.run_drift_csv(s, RunId.model_validate(dict(q)).run_id)
    ),
    "suite-drift": _in_session(_suite_drift),
    "trace-scores": _in_session(_trace_scores),
    **{kind: _list(kind) for kind in LISTS},
}
