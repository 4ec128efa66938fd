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
    "scope_version", "service_name", "flags", "dropped_attributes_count", "input_messages",
    "output_messages", "system_instructions",
)  # fmt: skip
if _COLUMNS != LOG_COLUMNS:
    raise RuntimeError(
        f"collector/log_rows.py builds {_COLUMNS} but log_records has {LOG_COLUMNS}: update"
    )


def record_hash(record: RawLogRecord) -> str:
    """A digest of everything the client sent for the record: the same record sent
    twice (an exporter's retry, protobuf or JSON alike) gets the same digest."""
    identity = (
        record.trace_id, record.span_id, record.time_ns, record.observed_time_ns,
        record.severity_number, record.severity_text, record.event_name, record.body,
        record.attributes, record.resource.attributes, record.scope.name,
        record.scope.version, record.flags,
    )  # fmt: skip
    encoded = orjson.dumps(identity, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    return hashlib.blake2b(encoded, digest_size=16).hexdigest()


def log_row(record: RawLogRecord, resource_json: str) -> LogRow:
    """``resource_json`` is serialized once per resource by the caller."""
    # The spec's fallbacks: observed time when the event time is unknown, and receipt
    # time when the client gave neither (the digest above keeps the zeros it sent).
    observed = record.observed_time_ns or time.time_ns()
    content = log_content(record)
    service = record.resource.attributes.get("service.name")
    return (
        record_hash(record),
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
        None if service is None else str(service),
        record.flags,
        record.dropped_attributes_count,
        None if content is None or content.input_messages is None
        else to_json(content.input_messages),
        None if content is None or content.output_messages is None
        else to_json(content.output_messages),
        None if content is None else content.system_instructions,
    )  # fmt: skip
