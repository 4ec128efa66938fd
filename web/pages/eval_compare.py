"""``GET /evals/compare?a=RUN&b=RUN``: two eval runs of a suite side by side.

``b`` is the run looked at and ``a`` the one it is held against; with ``b`` alone, ``a``
is the suite's baseline run, else its previous finished run (the runs pages link here
that way). ``evaluator`` narrows the regressed and improved lists and the tool table to
one evaluator's verdicts. The page and ``GET /api/eval-runs/{b}/compare`` show the
same comparison (``evals/compare.py``); the JSON link on the page is its twin.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from fastapi import APIRouter, HTTPException, Query, Request
from starlette.responses import HTMLResponse, Response

from evals.compare import DEFAULT_LIMIT, MAX_LIMIT, RunComparison
from store.run_compare import RunHead
from web.api_eval_compare import comparison_or_error
from web.deps import DbSession
from web.eval_urls import api_compare_url, compare_url, run_url
from web.score_view import FORMATS
from web.templating import query_string, render
from web.trace_view import TraceUrls

router = APIRouter()

_RUN_ID = re.compile(r"^[0-9]{1,18}$")


@dataclass(frozen=True, slots=True)
class EvalCompareView:
    """What ``eval_compare.html`` shows: the form as given, and the comparison once
    there is a run ``b``."""

    form: dict[str, str]
    comparison: RunComparison | None = None

    def trace_url(self, run: RunHead, trace_id: str) -> str:
        return TraceUrls(trace_id, run.project).page()

    def run_url(self, run: RunHead) -> str:
        return run_url(run.id)

    def url(self, **changes: str | int | None) -> str:
        """This comparison with ``changes`` (evaluator, limit), A kept as chosen."""
        c = self.comparison
        assert c is not None
        params = {"evaluator": c.evaluator, "limit": _not_default(c.limit), **changes}
        return compare_url(c.b.id, c.a.id, **params)

    @property
    def limit_param(self) -> int | None:
        """The limit, when it is not the default (so links stay short)."""
        return _not_default(self.comparison.limit) if self.comparison else None

    @property
    def swapped_url(self) -> str:
        c = self.comparison
        assert c is not None
        return compare_url(c.a.id, c.b.id)

    def csv_url(self, table: str = "evaluators") -> str:
        """One of the tables as shown: the same runs, evaluator and limit."""
        c = self.comparison
        assert c is not None
        params = {
            "against": c.a.id,
            "evaluator": c.evaluator,
            "table": None if table == "evaluators" else table,
            "limit": _not_default(c.limit),
        }
        return f"/api/eval-runs/{c.b.id}/compare.csv" + query_string(params)

    @property
    def json_url(self) -> str:
        c = self.comparison
        assert c is not None
        return api_compare_url(c.b.id, c.a.id, evaluator=c.evaluator, limit=_not_default(c.limit))


@router.get("/evals/compare", response_class=HTMLResponse)
def eval_compare_page(
    request: Request,
    session: DbSession,
    a: str | None = Query(None, description="The run to compare with (default: baseline)."),
    b: str | None = Query(None, description="The run looked at."),
    evaluator: str | None = Query(None, description="Narrow to one evaluator's verdicts."),
    limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="Rows per list."),
) -> Response:
    form = {"a": (a or "").strip(), "b": (b or "").strip(), "evaluator": evaluator or ""}
    run_b = _run_id("b", form["b"])
    if run_b is None:
        return render(request, "eval_compare.html", {"view": EvalCompareView(form), **FORMATS})
    comparison = comparison_or_error(
        session, run_b, _run_id("a", form["a"]), evaluator or None, limit
    )
    view = EvalCompareView(form, comparison)
    return render(request, "eval_compare.html", {"view": view, **FORMATS})


def _run_id(name: str, given: str) -> int | None:
    if not given:
        return None
    if not _RUN_ID.match(given):
        raise HTTPException(400, f"{name} must be a run id (a whole number)")
    return int(given)


def _not_default(limit: int) -> int | None:
    return None if limit == DEFAULT_LIMIT else limit
