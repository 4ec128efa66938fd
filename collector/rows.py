"""RawSpan + Canonical -> a ``spans`` row, JSON columns already serialized.

Serializing here (in the decode workers) rather than in the database driver keeps the
single writer thread's per-row work to binding strings.
"""

from __future__ import annotations

from collector.normalize.canonical import Canonical
from collector.spans import RawSpan
from store.types import to_json
from store.write import SpanRow
from store.write import span_row as ordered_row

_EMPTY_OBJECT = "{}"
_EMPTY_ARRAY = "[]"


def span_row(span: RawSpan, canonical: Canonical, resource_json: str, scope_json: str) -> SpanRow:
    """``resource_json``/``scope_json`` are serialized once per resource/scope by the caller."""
    c = canonical
    return ordered_row(
        {
            "trace_id": span.trace_id,
            "span_id": span.span_id,
            "parent_span_id": span.parent_span_id,
            "name": span.name,
            "otel_kind": span.otel_kind,
            "kind": c.kind.value,
            "service_name": _text(span.resource.attributes.get("service.name")),
            "scope_name": span.scope.name or None,
            "scope_version": span.scope.version or None,
            "start_time_ns": span.start_time_ns,
            "end_time_ns": span.end_time_ns,
            "duration_ns": max(span.end_time_ns - span.start_time_ns, 0),
            "status": c.status.value,
            "status_code": span.status_code,
            "status_message": span.status_message or None,
            "error_type": c.error_type,
            "error_message": c.error_message,
            "trace_state": span.trace_state or None,
            "flags": span.flags,
            "model": c.model,
            "request_model": c.request_model,
            "provider": c.provider,
            "input_tokens": c.input_tokens,
            "output_tokens": c.output_tokens,
            "total_tokens": c.total_tokens,
            "reasoning_tokens": c.reasoning_tokens,
            "cache_read_tokens": c.cache_read_tokens,
            "cache_write_tokens": c.cache_write_tokens,
            "cost_usd": c.cost_usd,
            "input_text": c.input_text,
            "output_text": c.output_text,
            "input_messages": None if c.input_messages is None else to_json(c.input_messages),
            "output_messages": None if c.output_messages is None else to_json(c.output_messages),
            "system_instructions": c.system_instructions,
            "reasoning_text": c.reasoning_text,
            "tool_name": c.tool_name,
            "tool_call_id": c.tool_call_id,
            "tool_arguments": c.tool_arguments,
            "tool_result": c.tool_result,
            "agent_name": c.agent_name,
            "agent_id": c.agent_id,
            "agent_version": c.agent_version,
            "session_id": c.session_id,
            "user_id": c.user_id,
            "trace_name": c.trace_name,
            "environment": c.environment,
            "prompt_name": c.prompt_name,
            "prompt_version": c.prompt_version,
            "confidence": c.confidence,
            "confidence_source": c.confidence_source,
            "finish_reasons": None if c.finish_reasons is None else to_json(c.finish_reasons),
            "conventions": to_json(c.conventions) if c.conventions else _EMPTY_ARRAY,
            "unmapped": to_json(c.unmapped) if c.unmapped else _EMPTY_ARRAY,
            "attributes": to_json(span.attributes) if span.attributes else _EMPTY_OBJECT,
            "resource_attributes": resource_json,
            "scope_attributes": scope_json,
            "events": to_json(span.events) if span.events else _EMPTY_ARRAY,
            "links": to_json(span.links) if span.links else _EMPTY_ARRAY,
            "dropped_attributes_count": span.dropped_attributes_count,
            "dropped_events_count": span.dropped_events_count,
            "dropped_links_count": span.dropped_links_count,
        }
    )


def _text(value: object) -> str | None:
    return None if value is None else str(value)
