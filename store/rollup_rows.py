"""Trace rollups worked out from a batch's own rows, in the decode worker.

``store/rollup.py`` recomputes a trace from its stored spans in SQL: ~62k instructions
per span in the writer thread on ``bench.ingest``'s traffic, more than the spans'
insert itself (bench/RESULTS.md, issue 10). Most traces, though, arrive whole in one
request; for those the rollup is a function of the request's rows alone. The worker
computes it here, with the SQL rollup's rules; the writer stores it only when it can
show that the trace's stored spans are exactly these rows (``store/write.py``), and
recomputes in SQL otherwise, so the result never depends on which path ran.

Rules mirrored from ``store/rollup.py``, including SQLite's semantics: ``max`` of text
compares UTF-8 bytes (code points, as Python does), ``lower`` and ``LIKE`` fold ASCII
letters only, ``_`` in a pattern is any one character, sums skip NULL.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from store.batch import ROW_COLUMNS, SpanRow, TraceRow
from store.vocabulary import USAGE_KINDS, SpanKind, Status

# store.rollup.ESCALATION_TOOL_PATTERNS as one expression: LIKE's ``%x%`` is a search,
# its ``_`` one character; re.ASCII | re.IGNORECASE folds ASCII letters only, as
# SQLite's lower() does.
_ESCALATION = re.compile(r"escalat|handoff|hand.off|human", re.ASCII | re.IGNORECASE | re.DOTALL)

_at = ROW_COLUMNS.index
(
    _TRACE, _SPAN, _PARENT, _NAME, _KIND, _SERVICE, _START, _END, _STATUS, _TOOL,
    _INPUT_TEXT, _OUTPUT_TEXT, _AGENT, _VERSION, _SESSION, _USER, _TRACE_NAME,
    _ENVIRONMENT, _OUTCOME, _COUNTED, _COST, _COST_SOURCE,
) = map(_at, (
    "trace_id", "span_id", "parent_span_id", "name", "kind", "service_name",
    "start_time_ns", "end_time_ns", "status", "tool_name", "input_text", "output_text",
    "agent_name", "agent_version", "session_id", "user_id", "trace_name", "environment",
    "outcome", "counted", "cost_usd", "cost_source",
))  # fmt: skip
_TOKENS = tuple(
    map(_at, ("input_tokens", "output_tokens", "reasoning_tokens", "cache_read_tokens",
              "cache_write_tokens"))
)  # fmt: skip
_USAGE = frozenset(kind.value for kind in USAGE_KINDS)
_LLM, _TOOL_KIND, _AGENT_KIND = SpanKind.LLM.value, SpanKind.TOOL.value, SpanKind.AGENT.value
_ERROR, _OK = Status.ERROR.value, Status.OK.value


def trace_rows(rows: Sequence[SpanRow]) -> list[TraceRow]:
    """One rollup per trace of ``rows`` (one project's batch rows), in first-seen order."""
    by_trace: dict[str, list[SpanRow]] = {}
    for row in rows:
        spans = by_trace.get(row[_TRACE])
        if spans is None:
            by_trace[row[_TRACE]] = [row]
        else:
            spans.append(row)
    return [_rollup(trace_id, spans) for trace_id, spans in by_trace.items()]


def _max(current: Any, value: Any) -> Any:
    return value if current is None or (value is not None and value > current) else current


def _rollup(trace_id: str, spans: list[SpanRow]) -> TraceRow:
    llm = tools = errors = failures = successes = unpriced = 0
    escalated = False
    tokens = [0, 0, 0, 0, 0]
    cost: float | None = None
    session = user = environment = trace_name = any_version = None
    start = end = None
    head = agent = None
    head_key: tuple[Any, ...] | None = None
    agent_key: tuple[Any, ...] | None = None
    # SQLite sums a trace's costs in its index order (span_id): the same order here, so
    # the float sum is the same to the last bit.
    for span in sorted(spans, key=_span_id):
        kind = span[_KIND]
        if kind == _LLM:
            llm += 1
        elif kind == _TOOL_KIND:
            tools += 1
            called = span[_TOOL] if span[_TOOL] is not None else span[_NAME]
            if not escalated and called is not None and _ESCALATION.search(called):
                escalated = True
        if span[_STATUS] == _ERROR:
            errors += 1
        outcome = span[_OUTCOME]
        if outcome == "failure":
            failures += 1
        elif outcome == "success":
            successes += 1
        if kind in _USAGE:
            for i, column in enumerate(_TOKENS):
                if span[column] is not None:
                    tokens[i] += span[column]
        if span[_COUNTED]:
            if span[_COST] is not None:
                cost = span[_COST] if cost is None else cost + span[_COST]
            if span[_COST_SOURCE] == "unpriced":
                unpriced += 1
        span_start = span[_START]
        start = span_start if start is None or span_start < start else start
        end = span[_END] if end is None or span[_END] > end else end
        session = _max(session, span[_SESSION])
        user = _max(user, span[_USER])
        environment = _max(environment, span[_ENVIRONMENT])
        trace_name = _max(trace_name, span[_TRACE_NAME])
        any_version = _max(any_version, span[_VERSION])
        key = (span[_PARENT] is not None, span_start, span[_SPAN])
        if head_key is None or key < head_key:
            head, head_key = span, key
        if span[_AGENT] is not None:
            key = (kind != _AGENT_KIND, span_start, span[_SPAN])
            if agent_key is None or key < agent_key:
                agent, agent_key = span, key
    assert head is not None and start is not None and end is not None
    root = head[_PARENT] is None
    return (
        trace_id,
        head[_SPAN] if root else None,
        trace_name if trace_name is not None else head[_NAME],
        head[_SERVICE],
        None if agent is None else agent[_AGENT],
        any_version if agent is None or agent[_VERSION] is None else agent[_VERSION],
        session,
        user,
        environment,
        start,
        end,
        end - start if end > start else 0,
        head[_STATUS] if root else (_ERROR if errors else _OK),
        errors,
        "failure" if failures else ("success" if successes else None),
        escalated,
        len(spans),
        llm,
        tools,
        *tokens,
        cost,
        unpriced,
        head[_INPUT_TEXT],
        head[_OUTPUT_TEXT],
    )


def _span_id(row: SpanRow) -> Any:
    return row[_SPAN]
