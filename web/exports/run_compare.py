"""The tables of an eval run comparison (``/evals/compare``) as CSV frames, by
``table=``: the Evaluators table (``reports.eval_compare_frame``), the regressed and
improved keys, run B's tools and failing, and the escalation tables.

Each holds the rows the page lists (the first ``limit`` keys and tools, as the page's
``limit``); verdict labels, explanations, outputs and tool names are span and model
text, neutralised by the one writer like every cell.
"""

from __future__ import annotations

from typing import Any, Literal

import pandas as pd

from evals.comparison import ChangedKey, Changes, Clip, RunComparison
from web.exports.reports import EVAL_COMPARE_COLUMNS, eval_compare_frame

Table = Literal["evaluators", "regressed", "improved", "tools", "escalations"]

CHANGES_COLUMNS: tuple[str, ...] = (
    "run_a", "run_b", "evaluator", "metric", "key", "item_key", "a_trace_id", "a_passed",
    "a_value", "a_label", "a_explanation", "b_trace_id", "b_passed", "b_value", "b_label",
    "b_explanation", "expected", "a_output", "b_output",
)  # fmt: skip
TOOLS_COLUMNS: tuple[str, ...] = (
    "run_a", "run_b", "evaluator", "tool", "called", "called_failed", "rate_called",
    "not_called", "not_called_failed", "rate_not_called", "difference",
)  # fmt: skip
ESCALATIONS_COLUMNS: tuple[str, ...] = (
    "run_a", "run_b", "evaluator", "section", "step", "tool", "a", "b",
)  # fmt: skip
COLUMNS: dict[str, tuple[str, ...]] = {
    "evaluators": EVAL_COMPARE_COLUMNS,
    "regressed": CHANGES_COLUMNS,
    "improved": CHANGES_COLUMNS,
    "tools": TOOLS_COLUMNS,
    "escalations": ESCALATIONS_COLUMNS,
}


def table_frame(c: RunComparison, table: Table) -> pd.DataFrame:
    """One of the comparison page's tables, in :data:`COLUMNS` ``[table]`` order."""
    runs = {"run_a": c.a.id, "run_b": c.b.id}
    match table:
        case "evaluators":
            return eval_compare_frame(c)
        case "regressed" | "improved":
            changes = c.regressed if table == "regressed" else c.improved
            records = _changes(changes, runs)
        case "tools":
            records = [
                {**runs, "evaluator": c.tools.evaluator, "tool": line.tool,
                 "called": line.called, "called_failed": line.called_failed,
                 "rate_called": line.rate_called, "not_called": line.not_called,
                 "not_called_failed": line.not_called_failed,
                 "rate_not_called": line.rate_not_called, "difference": line.difference}
                for line in c.tools.tools
            ]  # fmt: skip
        case "escalations":
            records = []
            for e in c.escalations:
                head = {**runs, "evaluator": e.evaluator}
                records += [
                    {**head, "section": "step", "step": s.step, "a": s.a, "b": s.b} for s in e.steps
                ]
                records += [
                    {**head, "section": "tool", "tool": tool, "a": a, "b": b}
                    for tool, a, b in e.tools
                ]
    # object dtype: a column of whole numbers with gaps stays whole (1, not 1.0)
    return pd.DataFrame(records, columns=list(COLUMNS[table]), dtype=object)


def _changes(changes: Changes, runs: dict[str, int]) -> list[dict[str, Any]]:
    return [_key_row(key, runs) for key in changes.rows]


def _key_row(key: ChangedKey, runs: dict[str, int]) -> dict[str, Any]:
    row: dict[str, Any] = {
        **runs, "evaluator": key.evaluator, "metric": key.metric, "key": key.key,
        "item_key": key.item_key, "expected": _text(key.expected),
    }  # fmt: skip
    for name, side in (("a", key.a), ("b", key.b)):
        row[f"{name}_trace_id"] = side.trace_id
        row[f"{name}_passed"] = side.passed
        row[f"{name}_value"] = side.value
        row[f"{name}_label"] = side.label
        row[f"{name}_explanation"] = side.explanation
        row[f"{name}_output"] = _text(side.output)
    return row


def _text(clip: Clip | None) -> str | None:
    return None if clip is None else clip.text
