"""Two runs of a suite side by side: what changed, what regressed, and what goes with failing.

``b`` is the run looked at, ``a`` the one it is held against: a chosen run, else the
suite's baseline run, else the suite's previous finished run. For each evaluator's
verdict: pass rates and means with deltas (B - A). Verdicts pair by trace, or by dataset
item where the scores name one, so a regression is a key that passed in A and fails
in B. For run B's traces, per tool: how often traces that called it failed, against
those that did not. For escalation verdicts: at which step the hand-off happened.

The database does the counting (``store/run_compare.py``); pandas joins the two runs'
figures and works out rates, so a 100,000-trace run costs a few aggregate queries and
the few rows a page lists. A finished run's figures come from its summary, which the
runner tallied from the same rows.

Errors::

    CompareError        why two runs cannot be compared
    ├── UnknownRun      a run id that is not stored                 (404)
    ├── NoBaseline      no run to hold B against: none given, none before it (404)
    └── BadComparison   a run against itself, an unknown evaluator, a bad limit (400)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
import pandas as pd
from sqlalchemy.engine import Connection

from evals.compare_tools import escalations, missing, text_or_none, tool_attribution
from evals.comparison import (
    BadComparison,
    ChangedKey,
    Changes,
    Clip,
    CompareError,
    Escalation,
    Figures,
    MetricLine,
    NoBaseline,
    RunComparison,
    Side,
    StepLine,
    ToolAttribution,
    ToolLine,
    UnknownRun,
)
from evals.evaluators import EVALUATORS, evaluator_class
from store.run_compare import (
    FINISHED,
    RunHead,
    Verdict,
    baseline_of,
    changed,
    pair_counts,
    run_head,
    run_metrics,
    sort_in_memory,
    tool_counts,
    verdict_figures,
    verdict_rows,
)

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
OUTPUT_CHARS = 2000  # of an expected or actual output shown per item

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "OUTPUT_CHARS",
    "BadComparison",
    "ChangedKey",
    "Changes",
    "Clip",
    "CompareError",
    "Escalation",
    "Figures",
    "MetricLine",
    "NoBaseline",
    "RunComparison",
    "Side",
    "StepLine",
    "ToolAttribution",
    "ToolLine",
    "UnknownRun",
    "compare_runs",
]


def compare_runs(
    connection: Connection,
    b: int,
    a: int | None = None,
    *,
    evaluator: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> RunComparison:
    """Run ``b`` against run ``a`` (default: ``b``'s baseline, see the module)."""
    if not 1 <= limit <= MAX_LIMIT:
        raise BadComparison(f"limit must be from 1 to {MAX_LIMIT}, not {limit}")
    run_b = _head(connection, b)
    against = "given"
    if a is None:
        a = baseline_of(connection, run_b)
        if a is None:
            raise NoBaseline(
                f"run {b} has no run to compare with: its suite has no baseline run and "
                "no run of it finished before this one; choose one"
            )
        against = "baseline" if a == run_b.suite_baseline_id else "previous"
    if a == b:
        raise BadComparison(f"run {b} compared with itself: choose another run")
    run_a = _head(connection, a)
    sort_in_memory(connection)
    verdicts = {**_verdicts(connection, run_a), **_verdicts(connection, run_b)}
    if evaluator is not None and evaluator not in verdicts:
        known = ", ".join(sorted(verdicts)) or "none"
        raise BadComparison(f"no evaluator {evaluator!r} gave verdicts in these runs ({known})")
    every = sorted(verdicts.items())
    chosen = [(evaluator, verdicts[evaluator])] if evaluator is not None else every
    metrics = _metric_lines(
        _run_figures(connection, run_a, every),
        _run_figures(connection, run_b, every),
        pair_counts(connection, a, b, every),
    )
    regressed, improved = _changes(connection, run_a, run_b, chosen, metrics, limit)
    return RunComparison(
        a=run_a,
        b=run_b,
        against=against,
        warnings=_warnings(run_a, run_b),
        verdicts=verdicts,
        evaluator=evaluator,
        limit=limit,
        metrics=metrics,
        regressed=regressed,
        improved=improved,
        tools=tool_attribution(tool_counts(connection, run_b, chosen), evaluator, limit),
        escalations=escalations(connection, run_a, run_b, metrics),
    )


def _head(connection: Connection, run_id: int) -> RunHead:
    head = run_head(connection, run_id)
    if head is None:
        raise UnknownRun(f"no eval run {run_id}")
    return head


def _verdicts(connection: Connection, run: RunHead) -> dict[str, str]:
    """Each evaluator's verdict metric in the run: as its summary recorded it; for a run
    with none (still going, or stopped), read from its rows: the metric its class
    declares, else the metric that holds its verdicts."""
    recorded = {
        name: metric
        for name in _summary_evaluators(run)
        if (metric := _summary_metric(run, name)) is not None
    }
    if recorded:
        return recorded
    rows = run_metrics(connection, run.id)
    result = {}
    for name, mine in rows.groupby("evaluator"):
        declared = _declared(str(name))
        if declared in set(mine["metric"]):
            result[str(name)] = declared
            continue
        judged = mine[mine["judged"] > 0].sort_values("judged", ascending=False)
        if not judged.empty:
            result[str(name)] = str(judged["metric"].iloc[0])
    return result


def _summary_evaluators(run: RunHead) -> list[str]:
    evaluators = (run.summary or {}).get("evaluators")
    return list(evaluators) if isinstance(evaluators, dict) else []


def _summary_metric(run: RunHead, name: str) -> str | None:
    evaluators = (run.summary or {}).get("evaluators")
    figures = evaluators.get(name) if isinstance(evaluators, dict) else None
    metric = figures.get("metric") if isinstance(figures, dict) else None
    return metric if isinstance(metric, str) else None


def _declared(name: str) -> str | None:
    if name not in EVALUATORS:
        return None
    try:
        return evaluator_class(name).metric
    except (ImportError, AttributeError):  # a module not written yet
        return None


def _warnings(a: RunHead, b: RunHead) -> list[str]:
    warnings = []
    if a.suite_id != b.suite_id:
        warnings.append(
            f"Run {a.id} is of suite {a.suite!r} and run {b.id} of suite {b.suite!r}: "
            "different suites may select other traces and score them differently."
        )
    if a.project_id != b.project_id:
        warnings.append(
            f"The runs are of different projects ({a.project!r}, {b.project!r}): "
            "traces cannot pair across projects, only dataset items can."
        )
    for run in (a, b):
        if run.status == "running":
            warnings.append(f"Run {run.id} is still running: its figures are partial.")
        elif run.status == "error":
            warnings.append(
                f"Run {run.id} stopped with an error: its figures cover what it scored."
            )
    if a.id > b.id:
        warnings.append(
            f"Run {a.id} (A) is newer than run {b.id} (B): "
            "regressed means passed in A, failed in B."
        )
    return warnings


def _run_figures(
    connection: Connection, run: RunHead, verdicts: Sequence[Verdict]
) -> dict[str, Figures]:
    """Each verdict's figures in the run: from its summary once it finished (the runner
    tallied the same rows), else counted."""
    recorded = {name: _summary_figures(run, name, metric) for name, metric in verdicts}
    if all(figures is not None for figures in recorded.values()):
        return {name: figures for name, figures in recorded.items() if figures is not None}
    counted = verdict_figures(connection, run.id, verdicts)
    return {
        row["evaluator"]: Figures(
            rows=row["rows"],
            passed=row["passed"],
            failed=row["failed"],
            values=row["values"],
            mean=None if missing(row["mean"]) else float(row["mean"]),
        )
        for row in counted.to_dict("records")
    }


def _summary_figures(run: RunHead, name: str, metric: str) -> Figures | None:
    """What the runner recorded of the evaluator, if the run finished and it is the
    same verdict metric; its rows include the evaluator's not applicable ones."""
    if run.status not in FINISHED or _summary_metric(run, name) != metric:
        return None
    figures = (run.summary or {})["evaluators"][name]
    try:
        passed, failed = int(figures["passed"]), int(figures["failed"])
        mean = figures["mean"]
        return Figures(
            rows=passed + failed + int(figures["not_applicable"]),
            passed=passed,
            failed=failed,
            values=int(figures["values"]),
            mean=None if mean is None else float(mean),
        )
    except (KeyError, TypeError, ValueError):  # a summary of another shape: count
        return None


def _metric_lines(
    figures_a: dict[str, Figures], figures_b: dict[str, Figures], counts: pd.DataFrame
) -> list[MetricLine]:
    lines = []
    for row in counts.sort_values(["evaluator", "metric"]).to_dict("records"):
        name = row["evaluator"]
        lines.append(
            MetricLine(
                evaluator=name,
                metric=row["metric"],
                a=figures_a.get(name),
                b=figures_b.get(name),
                paired=row["paired"],
                regressed=row["regressed"],
                improved=row["improved"],
                kept_passing=row["kept_passing"],
                kept_failing=row["kept_failing"],
                only_a=row["in_a"] - row["in_both"],
                only_b=row["in_b"] - row["in_both"],
                by_item=row["items"] > 0,
            )
        )
    return lines


def _changes(
    connection: Connection,
    a: RunHead,
    b: RunHead,
    chosen: Sequence[Verdict],
    metrics: list[MetricLine],
    limit: int,
) -> tuple[Changes, Changes]:
    """The regressed and the improved keys of the chosen verdicts: all counted, the
    first ``limit`` of each (by evaluator and key) listed with both runs' rows. Only
    verdicts with such keys are read again."""
    names = {name for name, _ in chosen}
    lines = [line for line in metrics if line.evaluator in names]
    totals = sum(line.regressed for line in lines), sum(line.improved for line in lines)
    moved = [(line.evaluator, line.metric) for line in lines if line.regressed or line.improved]
    if not moved:
        return Changes(True, 0, []), Changes(False, 0, [])
    keys = changed(connection, a.id, b.id, moved, limit)
    traces = list(pd.concat([keys["a_trace"], keys["b_trace"]]).dropna().unique())
    rows = verdict_rows(connection, [a.project_id, b.project_id], [a.id, b.id], traces, moved)
    found = {
        (r["run_id"], r["evaluator"], r["metric"], r["trace_id"]): r
        for r in rows.to_dict("records")
    }
    listed: dict[bool, list[ChangedKey]] = {True: [], False: []}
    for key in keys.to_dict("records"):
        a_trace, b_trace = text_or_none(key["a_trace"]), text_or_none(key["b_trace"])
        row_a = found.get((a.id, key["evaluator"], key["metric"], a_trace), {})
        row_b = found.get((b.id, key["evaluator"], key["metric"], b_trace), {})
        listed[bool(key["regressed"])].append(
            ChangedKey(
                evaluator=key["evaluator"],
                metric=key["metric"],
                key=str(key["key"]),
                item_key=text_or_none(key["item_key"]),
                expected=_detail(row_b, "expected") or _detail(row_a, "expected"),
                a=_side(a.id, a_trace, row_a),
                b=_side(b.id, b_trace, row_b),
            )
        )
    return Changes(True, totals[0], listed[True]), Changes(False, totals[1], listed[False])


def _side(run_id: int, trace_id: str | None, row: dict[str, Any]) -> Side:
    passed = row.get("passed")
    value = row.get("value")
    return Side(
        run_id=run_id,
        trace_id=trace_id,
        passed=None if missing(passed) else bool(passed),
        value=None if missing(value) else float(value),
        label=text_or_none(row.get("label")),
        explanation=text_or_none(row.get("explanation")),
        output=_detail(row, "output"),
    )


def _detail(row: dict[str, Any], name: str) -> Clip | None:
    """A field of the row's details as text, clipped; absent when the evaluator wrote
    none (only dataset evaluators record outputs)."""
    details = row.get("details")
    if not isinstance(details, dict) or details.get(name) is None:
        return None
    value = details[name]
    text = value if isinstance(value, str) else orjson.dumps(value).decode()
    return Clip(text[:OUTPUT_CHARS], len(text))
