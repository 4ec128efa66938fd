"""Trace and span ids from a seed, so the same seed writes byte-identical traffic."""

from __future__ import annotations

import random

from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.trace import INVALID_SPAN_ID, INVALID_TRACE_ID


class SeededIdGenerator(IdGenerator):
    """The SDK's default generator draws from the global ``random``; this one owns its stream.

    Ids are drawn in span-creation order, so they are reproducible as long as spans
    are created in the same order (the generator is single-threaded).
    """

    def __init__(self, seed: int | str) -> None:
        self._random = random.Random(seed)

    def generate_span_id(self) -> int:
        span_id = self._random.getrandbits(64)
        while span_id == INVALID_SPAN_ID:
            span_id = self._random.getrandbits(64)
        return span_id

    def generate_trace_id(self) -> int:
        trace_id = self._random.getrandbits(128)
        while trace_id == INVALID_TRACE_ID:
            trace_id = self._random.getrandbits(128)
        return trace_id

    def is_trace_id_random(self) -> bool:
        return True
