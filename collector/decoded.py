"""What a decoder hands to the pipeline: the valid spans, and why the others were refused."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import ClassVar

from collector.spans import RawSpan

# Largest value a signed 64-bit column (PostgreSQL BIGINT) holds.
MAX_INT64 = (1 << 63) - 1

# How many arrayValue/kvlistValue levels an AnyValue may nest, in either encoding. Real
# telemetry nests a handful; a hostile value nested ~250 deep decodes fine but then fails
# in orjson when stored (it refuses 255 levels: a 500), and each level costs stack frames.
# The protobuf parsers stop at 100 nested messages (two or three per level: ~48 levels)
# before this cap; collector/decode_proto.py applies it too, for in-memory messages.
MAX_VALUE_DEPTH = 64


@dataclass(slots=True)
class Rejections:
    """Items refused one by one, counted by reason, for OTLP's partial_success."""

    rejections: Counter[str] = field(default_factory=Counter)
    noun: ClassVar[str] = "span"

    @property
    def rejected(self) -> int:
        return sum(self.rejections.values())

    def reject(self, reason: str) -> None:
        self.rejections[reason] += 1

    def error_message(self) -> str:
        """One line per reason, most frequent first, for ``partial_success.error_message``."""
        return "; ".join(
            f"{count} {self.noun}{'s' if count > 1 else ''} rejected: {reason}"
            for reason, count in self.rejections.most_common()
        )


@dataclass(slots=True)
class Decoded(Rejections):
    spans: list[RawSpan] = field(default_factory=list)


def span_problem(
    trace_id: str | None, span_id: str | None, start_time_ns: int, end_time_ns: int
) -> str | None:
    """Why a span cannot be stored, or None. Ids arrive as hex, None when malformed."""
    if trace_id is None:
        return "trace_id must be 16 bytes (32 hex characters in JSON, not base64) and not all zero"
    if span_id is None:
        return "span_id must be 8 bytes (16 hex characters in JSON, not base64) and not all zero"
    if start_time_ns > MAX_INT64 or end_time_ns > MAX_INT64:
        return "start or end time beyond the year 2262"
    return None


def finite(value: float) -> float | str:
    """JSON (and PostgreSQL JSONB) has no NaN or Infinity: keep them as their names."""
    if math.isfinite(value):
        return value
    return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
