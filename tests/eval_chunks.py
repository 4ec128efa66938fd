"""Chunks built by hand for evaluator cases: a trace as a list of spans, the rollup
derived from them as the store derives it (counts, tokens, status, root input/output).

For the one-line positive and negative cases of each evaluator; end-to-end tests run
the real runner on traces sent over OTLP.
"""

from __future__ import annotations

import itertools
from typing import Any

import pandas as pd

from evals.frames import LOG_COLUMNS, OPTIONAL_SPAN_COLUMNS, SPAN_COLUMNS, TRACE_COLUMNS, Chunk

_ids = itertools.count(1)


def span(kind: str = "llm", **fields: Any) -> dict[str, Any]:
    """One span's columns; anything not given is None (or a plausible default)."""
    return {"kind": kind, **fields}


def tool(name: str, arguments: str | None = None, result: str | None = None, **fields: Any):
    return span(
        "tool",
        name=f"execute_tool {name}",
        tool_name=name,
        tool_arguments=arguments,
        tool_result=result,
        **fields,
    )


def make_chunk(
    *traces: list[dict[str, Any]], logs: list[dict[str, Any]] | None = None, **trace_fields: Any
) -> Chunk:
    """Traces t1, t2, ... in order; ``trace_fields`` apply to every trace's rollup row
    (agent_name, cost_usd, ...). A trace's first span is its root (an agent span is
    prepended when the first given span has a parent kind other than agent)."""
    trace_rows, span_rows = [], []
    for number, spans in enumerate(traces, start=1):
        trace_id = f"{number:032x}"
        start = 1_700_000_000_000_000_000 + number * 10_000_000_000
        root_id = f"{next(_ids):016x}"
        rows = []
        for position, given in enumerate(spans):
            span_id = root_id if position == 0 else f"{next(_ids):016x}"
            row = {column: None for column in (*SPAN_COLUMNS, *OPTIONAL_SPAN_COLUMNS)}
            row.update(
                trace_id=trace_id,
                span_id=span_id,
                parent_span_id=None if position == 0 else root_id,
                name=given.get("name", given["kind"]),
                start_time_ns=start + position * 1_000_000,
                duration_ns=1_000_000,
                status="ok",
            )
            row.update(given)
            rows.append(row)
        span_rows += rows
        frame = pd.DataFrame(rows)
        root = rows[0]
        usage = frame[frame["kind"].isin(["llm", "embedding"])]
        trace_row = {column: None for column in TRACE_COLUMNS}
        trace_row.update(
            trace_id=trace_id,
            root_span_id=root["span_id"],
            name=root["name"],
            start_time_ns=start,
            duration_ns=int(frame["duration_ns"].max()) + (len(rows) - 1) * 1_000_000,
            status=root["status"],
            error_count=int((frame["status"] == "error").sum()),
            escalated=False,
            span_count=len(rows),
            llm_call_count=int((frame["kind"] == "llm").sum()),
            tool_call_count=int((frame["kind"] == "tool").sum()),
            input_tokens=int(usage["input_tokens"].fillna(0).sum()),
            output_tokens=int(usage["output_tokens"].fillna(0).sum()),
            reasoning_tokens=0,
            cache_read_tokens=0,
            cache_write_tokens=0,
            cost_usd=None,
            unpriced_count=0,
            input=root.get("input_text"),
            output=root.get("output_text"),
        )
        trace_row.update(trace_fields)
        trace_rows.append(trace_row)
    log_frame = pd.DataFrame(logs or [], columns=list(LOG_COLUMNS))
    return Chunk(1, pd.DataFrame(trace_rows), pd.DataFrame(span_rows), log_frame)
