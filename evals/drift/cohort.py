"""A cohort as drift reads it: one row of values per trace, its calls by category, its
step sequence, and its eval scores.

Built by one function from a trace frame and a span frame, whether they come from a
suite run's chunks (the current cohort) or from the store (``store/cohort_reads.py``:
a baseline, or both cohorts of ``GET /api/drift``), so both sides of a report are
measured the same way.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import sqlalchemy as sa

from evals.drift.options import SCORE_PREFIX
from evals.summary import known_cost
from store.cohort_reads import SPAN_FIELDS, TRACE_FIELDS, cohort_rows
from store.queries import TraceFilter
from store.vocabulary import USAGE_KINDS, SpanKind, Status

NS_PER_MS = 1_000_000
LLM_STEP = "llm"
VALUE_COLUMNS = (
    "cost_usd",
    "input_tokens",
    "output_tokens",
    "reasoning_tokens",
    "latency_ms",
    "steps",
    "tool_calls",
    "output_length",
)
_USAGE = [kind.value for kind in USAGE_KINDS]


@dataclass(frozen=True, slots=True)
class Cohort:
    """``traces``: trace_id, start_time_ns, VALUE_COLUMNS, escalation, final_status and
    sequence (a tuple of steps: ``llm`` or the tool's name, in start order).
    ``calls``: trace_id, metric (tool_mix, model_mix, error_types), category.
    ``scores``: trace_id, name (``score:<evaluator>.<metric>``), value."""

    traces: pd.DataFrame
    calls: pd.DataFrame
    scores: pd.DataFrame
    limited: bool = False  # the selection held more traces than the cohort's bound
    label: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def size(self) -> int:
        return len(self.traces)


def part(traces: pd.DataFrame, spans: pd.DataFrame) -> Cohort:
    """The cohort values of some traces (whole: every span of each) and their spans,
    sorted by trace then start time (as chunks and ``cohort_rows`` give them)."""
    output_length = (
        traces["output_length"]
        if "output_length" in traces
        else traces["output"].str.len()  # a chunk has the text itself
    )
    values = pd.DataFrame(
        {
            "trace_id": traces["trace_id"].to_numpy(dtype=object),
            "start_time_ns": pd.to_numeric(traces["start_time_ns"]).to_numpy(np.int64),
            "cost_usd": known_cost(traces).to_numpy(np.float64),
            "input_tokens": _number(traces["input_tokens"]),
            "output_tokens": _number(traces["output_tokens"]),
            "reasoning_tokens": _number(traces["reasoning_tokens"]),
            "latency_ms": _number(traces["duration_ns"]) / NS_PER_MS,
            "steps": _number(traces["llm_call_count"]) + _number(traces["tool_call_count"]),
            "tool_calls": _number(traces["tool_call_count"]),
            "output_length": _number(output_length),
            "escalation": np.where(traces["escalated"].astype(bool), "escalated", "not escalated"),
            "final_status": traces["outcome"].fillna(traces["status"]).to_numpy(dtype=object),
        }
    )
    kind = spans["kind"]
    is_tool = (kind == SpanKind.TOOL.value).to_numpy()
    called = spans["tool_name"].fillna(spans["name"]).fillna("").to_numpy(dtype=object)
    step = np.where(is_tool, called, LLM_STEP)
    is_step = is_tool | (kind == SpanKind.LLM.value).to_numpy()
    sequences = _sequences(spans["trace_id"].to_numpy(dtype=object)[is_step], step[is_step])
    values["sequence"] = [sequences.get(trace_id, ()) for trace_id in values["trace_id"]]
    is_model = spans["model"].notna().to_numpy() & kind.isin(_USAGE).to_numpy()
    failed = (spans["status"] == Status.ERROR.value).to_numpy()
    error_type = spans["error_type"].fillna("(unknown)").to_numpy(dtype=object)
    calls = pd.concat(
        [
            _calls(spans["trace_id"], is_tool, "tool_mix", called),
            _calls(spans["trace_id"], is_model, "model_mix", spans["model"].to_numpy(object)),
            _calls(spans["trace_id"], failed, "error_types", error_type),
        ],
        ignore_index=True,
    )
    return Cohort(values, calls, _empty_scores())


def _sequences(trace_ids: np.ndarray, steps: np.ndarray) -> dict[str, tuple[str, ...]]:
    """Each trace's steps in order, from runs of equal trace ids (the spans are sorted by
    trace): slicing runs is 40 times faster than a groupby's aggregation into tuples."""
    if not len(trace_ids):
        return {}
    cuts = np.flatnonzero(trace_ids[1:] != trace_ids[:-1]) + 1
    starts, ends = np.r_[0, cuts], np.r_[cuts, len(trace_ids)]
    return {
        trace_ids[start]: tuple(steps[start:end].tolist())
        for start, end in zip(starts, ends, strict=True)
    }


def _number(column: pd.Series) -> np.ndarray:
    return pd.to_numeric(column, errors="coerce").to_numpy(np.float64)


def _calls(
    trace_ids: pd.Series, where: np.ndarray, metric: str, category: np.ndarray
) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "trace_id": trace_ids.to_numpy(dtype=object)[where],
            "metric": metric,
            "category": category[where].astype(str),
        }
    )


def score_rows(frame: pd.DataFrame, evaluator: str | None = None) -> pd.DataFrame:
    """Score rows (trace_id, [evaluator,] metric, value) as the cohort's ``scores``;
    ``evaluator`` names them when the frame has no such column (a run's own scores)."""
    if frame.empty:
        return _empty_scores()
    value = pd.to_numeric(frame["value"], errors="coerce")
    known = value.notna().to_numpy()
    source = frame["evaluator"] if evaluator is None else pd.Series(evaluator, index=frame.index)
    names = SCORE_PREFIX + source.astype(str) + "." + frame["metric"].astype(str)
    return pd.DataFrame(
        {
            "trace_id": frame["trace_id"].to_numpy(dtype=object)[known],
            "name": names.to_numpy(dtype=object)[known],
            "value": value.to_numpy(np.float64)[known],
        }
    )


def _empty_scores() -> pd.DataFrame:
    return pd.DataFrame({"trace_id": [], "name": [], "value": []})


def combined(parts: Iterable[Cohort], limit: int) -> Cohort:
    """Parts (a run's chunks) as one cohort of the newest ``limit`` traces."""
    parts = list(parts)
    if not parts:
        return part(_EMPTY_TRACES, _EMPTY_SPANS)
    traces = pd.concat([p.traces for p in parts], ignore_index=True)
    calls = pd.concat([p.calls for p in parts], ignore_index=True)
    scores = pd.concat([p.scores for p in parts], ignore_index=True)
    limited = len(traces) > limit or any(p.limited for p in parts)
    if len(traces) > limit:
        traces = traces.sort_values("start_time_ns", kind="stable").iloc[-limit:]
        kept = set(traces["trace_id"])
        calls = calls[calls["trace_id"].isin(kept)]
        scores = scores[scores["trace_id"].isin(kept)]
    return Cohort(traces.reset_index(drop=True), calls, scores, limited)


def load(
    connection: sa.Connection,
    selection: TraceFilter,
    *,
    limit: int,
    scores: Iterable[tuple[str, str]] | None = None,
) -> Cohort:
    """The newest ``limit`` traces of ``selection`` from the store, as a cohort."""
    rows = cohort_rows(connection, selection, limit=limit, scores=scores)
    cohort = part(rows.traces, rows.spans)
    return Cohort(cohort.traces, cohort.calls, score_rows(rows.scores), rows.limited)


_EMPTY_TRACES = pd.DataFrame(columns=[*TRACE_FIELDS, "output_length"])
_EMPTY_SPANS = pd.DataFrame(columns=list(SPAN_FIELDS))
