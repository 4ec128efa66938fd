"""Trace rollups worked out from a batch's own rows, in the decode worker.

``store/rollup.py`` recomputes a trace from its stored spans in SQL: ~62k instructions
per span in the writer thread on ``bench.ingest``'s traffic, more than the spans'
insert itself (bench/RESULTS.md, issue 10). Most traces, though, arrive whole in one
request; for those the rollup is a function of the request's rows alone. The worker
computes it here, with the SQL rollup's rules; the writer stores it only when it can
show that the trace's stored spans are exactly these rows (``store/batch_copy.py``), and
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
_IN, _OUT, _REASONING, _CACHE_READ, _CACHE_WRITE = map(
    _at, ("input_tokens", "output_tokens", "reasoning_tokens", "cache_read_tokens",
          "cache_write_tokens"),
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


def _rollup(trace_id: str, spans: list[SpanRow]) -> TraceRow:
    llm = tools = errors = failures = successes = unpriced = 0
    escalated = False
    t_in = t_out = t_reasoning = t_cache_read = t_cache_write = 0
    costs: list[tuple[str, float]] = []
    session = user = environment = trace_name = any_version = None
    head = spans[0]
    start, end = head[_START], head[_END]
    head_key = (head[_PARENT] is not None, start, head[_SPAN])
    agent: SpanRow | None = None
    agent_key: tuple[Any, ...] = ()
    for span in spans:
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
            value = span[_IN]
            t_in += 0 if value is None else value
            value = span[_OUT]
            t_out += 0 if value is None else value
            value = span[_REASONING]
            t_reasoning += 0 if value is None else value
            value = span[_CACHE_READ]
            t_cache_read += 0 if value is None else value
            value = span[_CACHE_WRITE]
            t_cache_write += 0 if value is None else value
        if span[_COUNTED]:
            if span[_COST] is not None:
                costs.append((span[_SPAN], span[_COST]))
            if span[_COST_SOURCE] == "unpriced":
                unpriced += 1
        span_start = span[_START]
        if span_start < start:
            start = span_start
        if span[_END] > end:
            end = span[_END]
        # max() of each, NULL skipped
        value = span[_SESSION]
        if value is not None and (session is None or value > session):
            session = value
        value = span[_USER]
        if value is not None and (user is None or value > user):
            user = value
        value = span[_ENVIRONMENT]
        if value is not None and (environment is None or value > environment):
            environment = value
        value = span[_TRACE_NAME]
        if value is not None and (trace_name is None or value > trace_name):
            trace_name = value
        value = span[_VERSION]
        if value is not None and (any_version is None or value > any_version):
            any_version = value
        key = (span[_PARENT] is not None, span_start, span[_SPAN])
        if key < head_key:
            head, head_key = span, key
        if span[_AGENT] is not None:
            key = (kind != _AGENT_KIND, span_start, span[_SPAN])
            if agent is None or key < agent_key:
                agent, agent_key = span, key
    cost: float | None = None
    if costs:
        # SQLite sums a trace's costs in its index order (span_id): the same order
        # here, so that the float sum is the same to the last bit.
        costs.sort()
        cost = costs[0][1]
        for _, value in costs[1:]:
            cost += value
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
        t_in,
        t_out,
        t_reasoning,
        t_cache_read,
        t_cache_write,
        cost,
        unpriced,
        head[_INPUT_TEXT],
        head[_OUTPUT_TEXT],
    )
