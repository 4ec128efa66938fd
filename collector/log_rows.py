"""RawLogRecord -> a ``log_records`` row (a tuple in ``LOG_COLUMNS`` order)."""

from __future__ import annotations

import hashlib
import time

import orjson

from collector.log_content import log_content
from collector.log_records import RawLogRecord
from store.batch import LOG_COLUMNS, LogRow
from store.types import to_json

_COLUMNS = (
    "record_hash", "trace_id", "span_id", "time_ns", "observed_time_ns", "severity_number",
    "severity_text", "event_name", "body", "attributes", "resource_attributes", "scope_name",
    "scope_version", "scope_attributes", "service_name", "flags", "dropped_attributes_count",
    "input_messages", "output_messages", "system_instructions", "finish_reasons",
)  # fmt: skip
if _COLUMNS != LOG_COLUMNS:
    raise RuntimeError(
        f"collector/log_rows.py builds {_COLUMNS} but log_records has {LOG_COLUMNS}: update"
    )

# Bump when the digest's input changes, so records stored before and after an upgrade
# are never confused (a retry across the upgrade is then stored twice, not lost).
_DIGEST_VERSION = 1


def record_hash(record: RawLogRecord, occurrence: int = 0) -> str:
    """A digest of everything the client sent for the record, protobuf or JSON alike.

    The same record sent again (an exporter's retry) gets the same digest and is stored
    once. ``occurrence`` counts identical records earlier in the same request, so a
    message repeated within one clock tick ("yes", "yes") is kept twice.
    """
    identity = (
        _DIGEST_VERSION, occurrence, record.trace_id, record.span_id, record.time_ns,
        record.observed_time_ns, record.severity_number, record.severity_text,
        record.event_name, record.body, record.attributes, record.flags,
        record.dropped_attributes_count, record.resource.attributes,
        record.resource.schema_url, record.resource.dropped_attributes_count,
        record.scope.name, record.scope.version, record.scope.attributes,
    )  # fmt: skip
    encoded = orjson.dumps(identity, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    return hashlib.blake2b(encoded, digest_size=16).hexdigest()


def log_row(record: RawLogRecord, digest: str, resource_json: str, scope_json: str) -> LogRow:
    """``resource_json``/``scope_json`` are serialized once per resource/scope by the caller."""
    # The spec's fallbacks: observed time when the event time is unknown, and receipt
    # time when the client gave neither (the digest keeps the zeros it sent).
    observed = record.observed_time_ns or time.time_ns()
    content = log_content(record)
    service = record.resource.attributes.get("service.name")
    return (
        digest,
        record.trace_id,
        record.span_id,
        record.time_ns or observed,
        observed,
        record.severity_number,
        record.severity_text or None,
        record.event_name or None,
        None if record.body is None else to_json(record.body),
        to_json(record.attributes),
        resource_json,
        record.scope.name or None,
        record.scope.version or None,
        scope_json,
        None if service is None else str(service),
        record.flags,
        record.dropped_attributes_count,
        _json_or_none(content and content.input_messages),
        _json_or_none(content and content.output_messages),
        content.system_instructions if content else None,
        _json_or_none(content and content.finish_reasons),
    )


def _json_or_none(value: object) -> str | None:
    return None if value is None else to_json(value)
