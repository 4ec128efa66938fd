"""Store records -> the JSON objects of the public API (documented in the README)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from store.logs import SpanLogs, span_content
from store.models import LogRecord, Span, Trace
from store.pricing.book import usage_of
from store.pricing.prices import Price, cost_of

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def iso_time(ns: int) -> str:
    """ISO 8601 UTC with microseconds; the exact nanoseconds travel beside it."""
    seconds, remainder = divmod(ns, 1_000_000_000)
    moment = _EPOCH + timedelta(seconds=seconds, microseconds=remainder // 1000)
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


def trace_json(trace: Trace, project: str) -> dict[str, Any]:
    return {
        "trace_id": trace.trace_id,
        "project": project,
        "service": trace.service_name,
        "name": trace.name,
        "agent_name": trace.agent_name,
        "agent_version": trace.agent_version,
        "session_id": trace.session_id,
        "user_id": trace.user_id,
        "environment": trace.environment,
        "root_span_id": trace.root_span_id,
        "start_time": iso_time(trace.start_time_ns),
        "end_time": iso_time(trace.end_time_ns),
        "start_time_unix_nano": trace.start_time_ns,
        "end_time_unix_nano": trace.end_time_ns,
        "duration_ms": trace.duration_ns / 1e6,
        "status": trace.status,
        "outcome": trace.outcome,
        "error_count": trace.error_count,
        "span_count": trace.span_count,
        "llm_call_count": trace.llm_call_count,
        "tool_call_count": trace.tool_call_count,
        "input_tokens": trace.input_tokens,
        "output_tokens": trace.output_tokens,
        "reasoning_tokens": trace.reasoning_tokens,
        "cache_read_tokens": trace.cache_read_tokens,
        "cache_write_tokens": trace.cache_write_tokens,
        "cost_usd": trace.cost_usd,
        "unpriced_count": trace.unpriced_count,
        "escalated": trace.escalated,
        "input": trace.input,
        "output": trace.output,
    }


# Span columns copied as they are; times and ids get their API names below.
_SPAN_FIELDS = (
    "trace_id", "span_id", "parent_span_id", "name", "kind", "otel_kind", "service_name",
    "scope_name", "scope_version", "status", "status_code", "status_message", "error_type",
    "error_message", "trace_state", "flags", "model", "request_model", "provider",
    "input_tokens", "output_tokens", "total_tokens", "reasoning_tokens", "cache_read_tokens",
    "cache_write_tokens", "input_text", "output_text", "input_messages",
    "output_messages", "system_instructions", "reasoning_text", "tool_name", "tool_call_id",
    "tool_arguments", "tool_result", "agent_name", "agent_id", "agent_version", "session_id",
    "user_id", "trace_name", "environment", "prompt_name", "prompt_version", "confidence",
    "confidence_source", "finish_reasons", "conventions", "unmapped", "attributes",
    "resource_attributes", "scope_attributes", "events", "links", "dropped_attributes_count",
    "dropped_events_count", "dropped_links_count",
)  # fmt: skip


_COST_FIELDS = ("cost_usd", "reported_cost_usd", "computed_cost_usd", "cost_source", "price_key")


def price_key(span: Span) -> str | None:
    """The key of the price that computed the span's cost (``store.prices_read``)."""
    return None if span.cost is None else span.cost.price_key


def span_json(
    span: Span, logs: SpanLogs | None = None, prices: dict[str, Price] | None = None
) -> dict[str, Any]:
    """``logs``: the span's log records, which fill the messages it lacks; ``prices``:
    the prices of the trace's spans by key (``store.prices_read``), for the breakdown."""
    body = {field: getattr(span, field) for field in _SPAN_FIELDS}
    cost = span.cost
    body.update({field: None if cost is None else getattr(cost, field) for field in _COST_FIELDS})
    body["reported_cost_details"] = None if cost is None else cost.reported_details
    price = (prices or {}).get(price_key(span) or "")
    body["cost_breakdown"] = None if price is None else cost_breakdown(span, price)
    body.update(span_content(span, logs))
    body["logs"] = [] if logs is None else [log_json(record) for record in logs.records]
    body["start_time"] = iso_time(span.start_time_ns)
    body["end_time"] = iso_time(span.end_time_ns)
    body["start_time_unix_nano"] = span.start_time_ns
    body["end_time_unix_nano"] = span.end_time_ns
    body["duration_ms"] = span.duration_ns / 1e6
    return body


def cost_breakdown(span: Span, price: Price) -> dict[str, Any]:
    usage = usage_of(
        span.input_tokens,
        span.output_tokens,
        span.cache_read_tokens,
        span.cache_write_tokens,
        span.reasoning_tokens,
    )
    cost = cost_of(price, usage)
    return {
        "price": {
            "key": price.key,
            "source": price.source,
            "version": price.version,
            "provider": price.provider,
            "model": price.model,
        },
        "lines": [
            {
                "kind": line.kind,
                "tokens": line.tokens,
                "usd_per_mtok": line.usd_per_mtok,
                "usd": line.usd,
            }
            for line in cost.lines
        ],
        "usd": cost.usd,
        "notes": list(cost.notes),
    }


def log_json(record: LogRecord) -> dict[str, Any]:
    return {
        "trace_id": record.trace_id,
        "span_id": record.span_id,
        "time": iso_time(record.time_ns),
        "time_unix_nano": record.time_ns,
        "observed_time_unix_nano": record.observed_time_ns,
        "severity_number": record.severity_number,
        "severity_text": record.severity_text,
        "event_name": record.event_name,
        "body": record.body,
        "attributes": record.attributes,
        "resource_attributes": record.resource_attributes,
        "scope_name": record.scope_name,
        "scope_version": record.scope_version,
        "input_messages": record.input_messages,
        "output_messages": record.output_messages,
        "system_instructions": record.system_instructions,
        "finish_reasons": record.finish_reasons,
        "scope_attributes": record.scope_attributes,
    }
