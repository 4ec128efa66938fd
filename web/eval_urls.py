"""Links to eval runs and their comparison, built in one place for every page that shows
a score or a run."""

from __future__ import annotations

from web.templating import query_string


def run_url(run_id: int) -> str:
    """A run's page (its scores and figures, on the evals pages)."""
    return f"/evals/runs/{run_id}"


def compare_url(b: int, a: int | None = None, **params: str | int | None) -> str:
    """Run ``b`` against ``a``; without ``a``, against the suite's baseline."""
    return "/evals/compare" + query_string({"a": a, "b": b, **params})


def api_compare_url(b: int, a: int | None = None, **params: str | int | None) -> str:
    return f"/api/eval-runs/{b}/compare" + query_string({"against": a, **params}).rstrip("?")


def scores_csv_url(run_id: int, evaluator: str | None = None, failed: bool = False) -> str:
    """The run's scores as CSV, filtered as the run page's results are."""
    params = {"evaluator": evaluator, "failed": "true" if failed else None}
    query = query_string(params)
    return f"/api/eval-runs/{run_id}/scores.csv" + ("" if query == "?" else query)


def summary_csv_url(run_id: int) -> str:
    return f"/api/eval-runs/{run_id}/summary.csv"
