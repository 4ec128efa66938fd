"""What a decoder hands to the pipeline: the valid spans, and why the others were refused."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from collector.spans import RawSpan

if TYPE_CHECKING:
    from collector.limits import Cutter

# Largest values the store's integer columns hold: BIGINT (times), INTEGER (the dropped
# counts) on PostgreSQL; flags are a fixed32 on the wire.
MAX_INT64 = (1 << 63) - 1
MAX_INT32 = (1 << 31) - 1
MAX_UINT32 = (1 << 32) - 1

# How many arrayValue/kvlistValue levels an AnyValue may nest, in either encoding: the
# default and the ceiling of REASONLENS_MAX_VALUE_DEPTH. Real telemetry nests a handful;
# a hostile value nested ~250 deep decodes but fails in orjson when stored (a 500), and
# each level costs stack frames. The ceiling is what protobuf lets through everywhere:
# its parsers refuse messages nested more than 100 deep, and a kvlistValue level is
# three messages (AnyValue, KeyValueList, KeyValue) below the seven that reach a span
# event's attribute value, so 31 levels always parse (tests/test_limits.py pins this).
# A higher cap would hold for JSON only; this one answers both encodings alike.
MAX_VALUE_DEPTH = 31


@dataclass(slots=True)
class Rejections:
    """Items refused one by one, counted by reason, for OTLP's partial_success; and
    ``notes``: what was stored other than as sent (attributes over a limit dropped,
    values truncated), which partial_success reports with the rejections. ``cutter``: what
    cut the strings too long (``collector/limits.py``), None when none could be."""

    rejections: Counter[str] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)
    cutter: Cutter | None = None
    noun: ClassVar[str] = "span"

    @property
    def rejected(self) -> int:
        return sum(self.rejections.values())

    def reject(self, reason: str) -> None:
        self.rejections[reason] += 1

    def error_message(self) -> str:
        """One line per reason, most frequent first, then the notes, for
        ``partial_success.error_message``."""
        return "; ".join(
            [
                *(
                    f"{count} {self.noun}{'s' if count > 1 else ''} rejected: {reason}"
                    for reason, count in self.rejections.most_common()
                ),
                *self.notes,
            ]
        )


@dataclass(slots=True)
class Decoded(Rejections):
    spans: list[RawSpan] = field(default_factory=list)


def span_problem(
    trace_id: str | None,
    span_id: str | None,
    start_time_ns: int,
    end_time_ns: int,
    kind: int,
    status_code: int,
    flags: int,
    dropped: int,
) -> str | None:
    """Why a span cannot be stored, or None. Ids arrive as hex, None when malformed.

    The numbers are checked against what the store's columns hold (SMALLINT kind and
    status code, INTEGER dropped counts on PostgreSQL), so a value no SDK sends refuses
    its span instead of the database refusing the batch. ``dropped``: the three dropped
    counts OR-ed together, which is over 2**31 - 1 exactly when one of them is.
    """
    if trace_id is None:
        return "trace_id must be 16 bytes (32 hex characters in JSON, not base64) and not all zero"
    if span_id is None:
        return "span_id must be 8 bytes (16 hex characters in JSON, not base64) and not all zero"
    if start_time_ns > MAX_INT64 or end_time_ns > MAX_INT64:
        return "start or end time beyond the year 2262"
    if not 0 <= kind <= 5:
        return f"kind {kind} is not a SpanKind (0-5)"
    if not 0 <= status_code <= 2:
        return f"status code {status_code} is not 0-2"
    if flags > MAX_UINT32 or dropped > MAX_INT32:
        return "flags or a dropped count out of range"
    return None


def finite(value: float) -> float | str:
    """JSON (and PostgreSQL JSONB) has no NaN or Infinity: keep them as their names."""
    if math.isfinite(value):
        return value
    return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
