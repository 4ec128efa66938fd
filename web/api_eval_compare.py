"""``GET /api/eval-runs/{b}/compare?against={a}``: two eval runs side by side, as JSON
(and each of the page's tables as CSV, ``compare.csv?table=``).

The JSON twin of ``/evals/compare`` (``web/pages/eval_compare.py``): the same
comparison (``evals/compare.py``), every figure and list the page shows. Without
``against``, run ``b`` is held against its suite's baseline run, else the suite's
previous finished run. Unknown runs, or no run to compare with, are 404; a run
against itself, an evaluator neither run has or a bad limit, 400.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session
from starlette.responses import Response, StreamingResponse

from evals.compare import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    BadComparison,
    ChangedKey,
    Changes,
    Clip,
    CompareError,
    Escalation,
    Figures,
    MetricLine,
    RunComparison,
    ToolAttribution,
    compare_runs,
)
from store.run_compare import RunHead
from web.deps import DbSession
from web.eval_compare_schemas import RunComparisonOut
from web.eval_urls import run_url
from web.exports.csv_writer import filename
from web.exports.reports import frame_csv
from web.exports.response import CSV_RESPONSES, csv_response
from web.exports.run_compare import COLUMNS, Table, table_frame
from web.params import RowId

router = APIRouter()


@router.get("/api/eval-runs/{b}/compare", response_model=RunComparisonOut)
def api_compare_runs(
    session: DbSession,
    b: RowId,
    against: int | None = Query(
        None,
        ge=1,
        le=2**63 - 1,
        description="The run to compare with; default: the suite's baseline run, "
        "else its previous finished run.",
    ),
    evaluator: str | None = Query(
        None,
        description="Narrow the regressed/improved lists and the tool attribution "
        "to this evaluator's verdicts (default: any verdict).",
    ),
    limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="Rows per list."),
) -> Response:
    """Per evaluator: pass rates and means with deltas; the keys (traces, or dataset
    items) that regressed and improved; per tool, run B's failure rate with and without
    it; escalation steps."""
    comparison = comparison_or_error(session, b, against, evaluator or None, limit)
    return Response(orjson.dumps(comparison_json(comparison)), media_type="application/json")


class CompareCsvParams(BaseModel):
    """Which comparison and which of its tables; the JSON comparison's parameters."""

    against: int | None = Field(None, ge=1, le=2**63 - 1, description="As for the JSON.")
    evaluator: str | None = Field(None, description="As for the JSON comparison.")
    table: Table = Field("evaluators", description="evaluators, regressed, improved, "
                         "tools or escalations: the page's tables.")  # fmt: skip
    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="Keys and tools listed.")


@router.get(
    "/api/eval-runs/{b}/compare.csv", response_class=StreamingResponse, responses=CSV_RESPONSES
)
def api_compare_runs_csv(
    session: DbSession, b: RowId, params: Annotated[CompareCsvParams, Query()]
) -> Response:
    """One table of the comparison page as it shows it: the Evaluators table (the
    default), the first ``limit`` regressed or improved keys, run B's tools (the first
    ``limit``), or the escalation tables (``web.exports.run_compare.COLUMNS``)."""
    chunks, comparison = compare_csv(session, b, params)
    qualifier = f"runs-{comparison.a.id}-{comparison.b.id}"
    kind = "eval-compare" if params.table == "evaluators" else f"eval-compare-{params.table}"
    return csv_response(chunks, filename(kind, qualifier))


def compare_csv(
    session: Session, b: int, params: CompareCsvParams
) -> tuple[Iterator[bytes], RunComparison]:
    """The table's CSV (also ``reasonlens export eval-compare``), and the comparison."""
    comparison = comparison_or_error(
        session, b, params.against, params.evaluator or None, params.limit
    )
    frame = table_frame(comparison, params.table)
    return frame_csv(frame, COLUMNS[params.table]), comparison


def comparison_or_error(
    session: Session, b: int, a: int | None, evaluator: str | None, limit: int
) -> RunComparison:
    """The comparison, or the HTTP error that says why there is none (page and API)."""
    try:
        return compare_runs(session.connection(), b, a, evaluator=evaluator, limit=limit)
    except BadComparison as error:
        raise HTTPException(400, str(error)) from None
    except CompareError as error:  # an unknown run, or none to compare with
        raise HTTPException(404, str(error)) from None


def comparison_json(c: RunComparison) -> dict[str, Any]:
    return {
        "a": run_json(c.a),
        "b": run_json(c.b),
        "against": c.against,
        "warnings": c.warnings,
        "verdicts": c.verdicts,
        "evaluator": c.evaluator,
        "limit": c.limit,
        "metrics": [_metric_json(line) for line in c.metrics],
        "regressed": _changes_json(c.regressed),
        "improved": _changes_json(c.improved),
        "tools": _tools_json(c.tools),
        "escalations": [_escalation_json(e) for e in c.escalations],
    }


def run_json(run: RunHead) -> dict[str, Any]:
    return {
        "id": run.id,
        "suite_id": run.suite_id,
        "suite": run.suite,
        "project": run.project,
        "status": run.status,
        "started_at": _iso(run.started_at),
        "finished_at": _iso(run.finished_at),
        "selection_size": run.selection_size,
        "url": run_url(run.id),
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _figures_json(figures: Figures | None) -> dict[str, Any] | None:
    if figures is None:
        return None
    return {
        **asdict(figures),
        "not_applicable": figures.not_applicable,
        "pass_rate": figures.pass_rate,
    }


def _metric_json(line: MetricLine) -> dict[str, Any]:
    return {
        **asdict(line),
        "a": _figures_json(line.a),
        "b": _figures_json(line.b),
        "pass_rate_delta": line.pass_rate_delta,
        "mean_delta": line.mean_delta,
    }


def _clip_json(clip: Clip | None) -> dict[str, Any] | None:
    return None if clip is None else {"text": clip.text, "length": clip.length}


def _key_json(key: ChangedKey) -> dict[str, Any]:
    sides = {}
    for name, side in (("a", key.a), ("b", key.b)):
        sides[name] = {**asdict(side), "output": _clip_json(side.output)}
    return {
        "evaluator": key.evaluator,
        "metric": key.metric,
        "key": key.key,
        "item_key": key.item_key,
        "expected": _clip_json(key.expected),
        **sides,
    }


def _changes_json(changes: Changes) -> dict[str, Any]:
    return {"total": changes.total, "rows": [_key_json(key) for key in changes.rows]}


def _tools_json(tools: ToolAttribution) -> dict[str, Any]:
    return {
        "evaluator": tools.evaluator,
        "judged": tools.judged,
        "failed": tools.failed,
        "failure_rate": tools.failure_rate,
        "tool_count": tools.tool_count,
        "tools": [
            {
                **asdict(line),
                "rate_called": line.rate_called,
                "rate_not_called": line.rate_not_called,
                "difference": line.difference,
            }
            for line in tools.tools
        ],
    }


def _escalation_json(e: Escalation) -> dict[str, Any]:
    return {
        "evaluator": e.evaluator,
        "a": {"judged": e.a_judged, "escalated": e.a_escalated, "share": e.a_share},
        "b": {"judged": e.b_judged, "escalated": e.b_escalated, "share": e.b_share},
        "steps": [asdict(step) for step in e.steps],
        "tools": [{"tool": tool, "a": a, "b": b} for tool, a, b in e.tools],
    }
