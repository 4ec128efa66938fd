"""RawSpan + Canonical + cost -> a batch row (a tuple in ``ROW_COLUMNS`` order: the
span's ``span_costs`` values, then its ``spans`` columns).

Built straight as a tuple, JSON columns already serialized: this runs once per span
in the decode workers, and a dict per row plus a reordering cost a tenth of the
worker's time. ``_COLUMNS`` names the tuple's positions and is checked against the
table at import, so a new column cannot be silently misplaced.
"""

from __future__ import annotations

from functools import lru_cache

from collector.limits import indexed
from collector.normalize.canonical import Canonical
from collector.spans import RawSpan
from store.batch import NO_COST, ROW_COLUMNS, CostValues, SpanRow
from store.types import to_json

_EMPTY_OBJECT = "{}"
_EMPTY_ARRAY = "[]"

_COLUMNS = (
    # span_costs
    "counted", "cost_usd", "reported_cost_usd", "computed_cost_usd", "cost_source",
    "price_key", "reported_details",
    # spans
    "trace_id", "span_id", "parent_span_id", "name", "otel_kind", "kind", "service_name",
    "scope_name", "scope_version", "start_time_ns", "end_time_ns", "duration_ns", "status",
    "status_code", "status_message", "error_type", "error_message", "trace_state", "flags",
    "model", "request_model", "provider", "input_tokens", "output_tokens", "total_tokens",
    "reasoning_tokens", "cache_read_tokens", "cache_write_tokens", "input_text", "output_text",
    "input_messages", "output_messages", "system_instructions", "reasoning_text",
    "tool_name", "tool_call_id", "tool_arguments", "tool_result", "agent_name", "agent_id",
    "agent_version", "session_id", "user_id", "trace_name", "environment", "prompt_name",
    "prompt_version", "confidence", "confidence_source", "outcome", "finish_reasons",
    "conventions",
    "unmapped", "attributes", "resource_attributes", "scope_attributes", "events", "links",
    "dropped_attributes_count", "dropped_events_count", "dropped_links_count",
)  # fmt: skip
if _COLUMNS != ROW_COLUMNS:
    raise RuntimeError(
        f"collector/rows.py builds {_COLUMNS} but a batch row is {ROW_COLUMNS}: update span_row"
    )


@lru_cache(maxsize=4096)
def _names_json(names: tuple[str, ...]) -> str:
    """Convention, unmapped-key and finish-reason lists repeat across spans: serialize once."""
    return to_json(list(names))


def _json_list(values: list[str] | None) -> str | None:
    if values is None:
        return None
    return _names_json(tuple(values)) if values else _EMPTY_ARRAY


def span_row(
    span: RawSpan,
    canonical: Canonical,
    resource_json: str,
    scope_json: str,
    cost: CostValues = NO_COST,
) -> SpanRow:
    """``resource_json``/``scope_json`` are serialized once per resource/scope by the caller;
    ``cost``: the span's ``span_costs`` values (``collector/costing.py``), which the writer
    stores in ``span_costs``. The columns the store indexes are cut to a length any
    index takes (``collector/limits.py``)."""
    c = canonical
    # Unpacked by name: a starred item would build the tuple through a list.
    counted, cost_usd, reported, computed, cost_source, price_key, details = cost
    service = span.resource.attributes.get("service.name")
    start, end = span.start_time_ns, span.end_time_ns
    return (
        counted,
        cost_usd,
        reported,
        computed,
        cost_source,
        price_key,
        details,
        span.trace_id,
        span.span_id,
        span.parent_span_id,
        span.name,
        span.otel_kind,
        c.kind._value_,  # .value is a Python-level property: 88 against 19 ns
        None if service is None else indexed(str(service)),
        span.scope.name or None,
        span.scope.version or None,
        start,
        end,
        end - start if end > start else 0,
        c.status._value_,
        span.status_code,
        span.status_message or None,
        c.error_type,
        c.error_message,
        span.trace_state or None,
        span.flags,
        indexed(c.model),
        c.request_model,
        c.provider,
        c.input_tokens,
        c.output_tokens,
        c.total_tokens,
        c.reasoning_tokens,
        c.cache_read_tokens,
        c.cache_write_tokens,
        c.input_text,
        c.output_text,
        None if c.input_messages is None else to_json(c.input_messages),
        None if c.output_messages is None else to_json(c.output_messages),
        c.system_instructions,
        c.reasoning_text,
        indexed(c.tool_name),
        c.tool_call_id,
        c.tool_arguments,
        c.tool_result,
        indexed(c.agent_name),
        c.agent_id,
        indexed(c.agent_version),
        indexed(c.session_id),
        c.user_id,
        c.trace_name,
        c.environment,
        c.prompt_name,
        c.prompt_version,
        c.confidence,
        c.confidence_source,
        c.outcome,
        _json_list(c.finish_reasons),
        _json_list(c.conventions),
        _json_list(c.unmapped),
        to_json(span.attributes) if span.attributes else _EMPTY_OBJECT,
        resource_json,
        scope_json,
        to_json(span.events) if span.events else _EMPTY_ARRAY,
        to_json(span.links) if span.links else _EMPTY_ARRAY,
        span.dropped_attributes_count,
        span.dropped_events_count,
        span.dropped_links_count,
    )
