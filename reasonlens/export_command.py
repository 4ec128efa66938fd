"""``reasonlens export``: the dashboard's CSV exports, written to a file from the CLI.

Each kind takes the query string of its API route (``project=default&agent=support``)
and goes through the same modules as the route (``web/exports``), so a file exported
here equals the download. A bad parameter exits 2 with a message naming it, before the
file is created; the file appears only once complete.
"""

from __future__ import annotations

from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from urllib.parse import parse_qsl

import sqlalchemy as sa
from fastapi import HTTPException
from pydantic import BaseModel, Field, ValidationError
from rich.console import Console
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from store import eval_reads
from store.engine import create_engine
from web.api_csv import SpanFilterParams, span_selection
from web.drift_params import DriftParams, DriftQueryError, drift_report
from web.exports.csv_writer import write_file
from web.exports.pool import ExportPool
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
from web.params import BadParameter

OK, BAD_INPUT = 0, 2


class Kind(StrEnum):
    TRACES = "traces"
    SPANS = "spans"
    SCORES = "scores"
    SUMMARY = "summary"
    COMPARE = "compare"
    DRIFT = "drift"


class RunParams(BaseModel):
    """``scores`` and ``summary``: which run (and, for scores, which of its scores)."""

    run_id: int = Field(ge=1, le=2**63 - 1)
    evaluator: str | None = Field(None, max_length=200)
    failed: bool = False


class ExportError(ValueError):
    """A parameter the export cannot use; the message names it."""


def export_command(kind: Kind, query: str, out: Path, database_url: str, workers: int) -> int:
    errors = Console(stderr=True, highlight=False)
    if not _exists(database_url):
        errors.print(f"[red]no database[/red] at {database_url}", soft_wrap=True)
        return BAD_INPUT
    engine = create_engine(database_url)
    pool = ExportPool(database_url, workers)
    try:
        try:
            # Every parameter is checked here, before the file is opened.
            chunks = _chunks(engine, pool, kind, list(parse_qsl(query, keep_blank_values=False)))
        except ExportError as error:
            errors.print(f"[red]bad parameter[/red] {error}", soft_wrap=True)
            return BAD_INPUT
        size = write_file(out, chunks)
    finally:
        pool.close()
        engine.dispose()
    Console(highlight=False).print(f"wrote {out} ({size:,} bytes)", soft_wrap=True)
    return OK


def _chunks(
    engine: sa.Engine, pool: ExportPool, kind: Kind, query: list[tuple[str, str]]
) -> Iterator[bytes]:
    given = dict(query)
    try:
        match kind:
            case Kind.TRACES:
                selection = trace_selection(TraceFilterParams.model_validate(given))
                return trace_csv(engine, selection, pool)
            case Kind.SPANS:
                return span_csv(
                    engine, span_selection(SpanFilterParams.model_validate(given)), pool
                )
            case Kind.SCORES | Kind.SUMMARY:
                params = RunParams.model_validate(given)
                with Session(engine) as session:
                    record = eval_reads.get_run(session, params.run_id)
                if record is None:
                    raise ExportError(f"run_id: no eval run {params.run_id}")
                if kind is Kind.SUMMARY:
                    frame = run_summary_frame(record.run, record.suite_name, record.project)
                    return frame_csv(frame, SUMMARY_COLUMNS)
                return score_csv(
                    engine,
                    params.run_id,
                    record.project,
                    evaluator=params.evaluator,
                    failed_only=params.failed,
                )
            case Kind.COMPARE:
                with Session(engine) as session:
                    _, result = comparison_of(session, query)
                return frame_csv(compare_frame(result), COMPARE_COLUMNS)
            case Kind.DRIFT:
                with Session(engine) as session:
                    report = drift_report(session, DriftParams.model_validate(given))
                return frame_csv(drift_frame(report), DRIFT_COLUMNS)
    except ValidationError as error:
        problem = error.errors()[0]
        name = ".".join(str(part) for part in problem["loc"]) or "query"
        raise ExportError(f"{name}: {problem['msg']}") from None
    except (BadParameter, DriftQueryError) as error:
        raise ExportError(str(error)) from None
    except HTTPException as error:  # the compare page's parser speaks HTTP
        raise ExportError(str(error.detail)) from None


def _exists(database_url: str) -> bool:
    """A SQLite file that is not there would be created empty: say so instead."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return True
    return Path(url.database).exists()
