"""What goes with failing, for run comparisons: per tool, the failure rate of traces that
called it against those that did not; and at which step escalations happen."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
from sqlalchemy.engine import Connection

from evals.comparison import Escalation, MetricLine, StepLine, ToolAttribution, ToolLine
from store.run_compare import RunHead, ToolCounts, escalation_counts

ESCALATED = "escalated"  # the escalation evaluator's verdict metric (passed = not escalated)


def tool_attribution(counts: ToolCounts, evaluator: str | None, limit: int) -> ToolAttribution:
    tools = counts.tools
    lines = [
        ToolLine(
            tool=text_or_none(row["tool"]),
            called=int(row["traces"]),
            called_failed=int(row["failed"]),
            not_called=counts.judged - int(row["traces"]),
            not_called_failed=counts.failed - int(row["failed"]),
        )
        for row in tools.to_dict("records")
    ]
    # The tools most associated with failing first; a tool every trace calls has no
    # "without" to compare with, so it goes after those that do.
    lines.sort(
        key=lambda line: (
            line.difference is None,
            -(line.difference or 0.0),
            -line.called,
            line.tool or "",
        )
    )
    return ToolAttribution(evaluator, counts.judged, counts.failed, lines[:limit], len(lines))


def escalations(
    connection: Connection,
    a: RunHead,
    b: RunHead,
    metrics: list[MetricLine],
) -> list[Escalation]:
    lines = [line for line in metrics if line.metric == ESCALATED]
    if not lines:
        return []
    counts = escalation_counts(
        connection, [a.id, b.id], [(line.evaluator, ESCALATED) for line in lines]
    )
    result = []
    for line in lines:
        mine = counts[counts["evaluator"] == line.evaluator]
        steps = mine.assign(step=mine["step"].fillna(-1).round().astype("int64"))
        by_step = steps.pivot_table(
            index="step", columns="run_id", values="traces", aggfunc="sum", fill_value=0
        )
        by_tool = mine.assign(tool=mine["tool"].fillna("")).pivot_table(
            index="tool", columns="run_id", values="traces", aggfunc="sum", fill_value=0
        )
        result.append(
            Escalation(
                evaluator=line.evaluator,
                a_judged=line.a.judged if line.a else 0,
                a_escalated=line.a.failed if line.a else 0,
                b_judged=line.b.judged if line.b else 0,
                b_escalated=line.b.failed if line.b else 0,
                steps=[
                    StepLine(
                        step=None if step < 0 else int(step),
                        a=_cell(by_step, step, a.id),
                        b=_cell(by_step, step, b.id),
                    )
                    for step in sorted(by_step.index, key=lambda s: (s < 0, s))
                ],
                tools=sorted(
                    (
                        (tool or None, _cell(by_tool, tool, a.id), _cell(by_tool, tool, b.id))
                        for tool in by_tool.index
                    ),
                    key=lambda item: (-(item[1] + item[2]), item[0] or ""),
                ),
            )
        )
    return result


def _cell(table: pd.DataFrame, index: Any, column: int) -> int:
    if column not in table.columns:
        return 0
    return int(table.at[index, column])


def missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA


def text_or_none(value: Any) -> str | None:
    return None if missing(value) else str(value)
