"""Hostile OTLP for the fuzz tests (hypothesis): any body, and the run's bounds.

:func:`bodies` draws a random message (``tests/fuzz_messages.py``), a mutated real
payload (``tests/fuzz_seeds.py``) or random bytes.

``examples(n)`` scales a test's example count with the hypothesis profile: ``ci``
(loaded by tests/conftest.py, derandomized: the same examples on every run) runs ``n``;
``pytest --hypothesis-profile=fuzz`` runs fifty times more, randomly (DEVELOPERS.md).
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from hypothesis import settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from tests.fuzz_messages import log_requests, trace_requests
from tests.fuzz_seeds import Seed, mutated_bytes, mutated_json, seeds
from tests.otlp import otlp_json

CI_EXAMPLES = 100  # hypothesis' default max_examples, which the ci profile keeps


def examples(n: int) -> int:
    """``n`` under the ci profile, scaled with the loaded profile's max_examples."""
    return max(1, n * settings().max_examples // CI_EXAMPLES)


class Hang(Exception):
    """An example ran past its time bound."""


@contextmanager
def bounded(seconds: float) -> Iterator[None]:
    """Fail an example that runs longer than ``seconds`` (a hang, or a quadratic path),
    where hypothesis' deadline would only report it after it ended."""

    def expire(signum: int, frame: FrameType | None) -> None:
        raise Hang(f"example ran over {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@st.composite
def bodies(draw: st.DrawFn, encodings: tuple[str, ...] = ("protobuf", "json")) -> Seed:
    """Any of the hostile bodies: a random message (most often: it reaches furthest),
    a mutated seed, or random bytes."""
    kind = draw(st.sampled_from(["message", "message", "message", "mutated", "mutated", "random"]))
    encoding = draw(st.sampled_from(encodings))
    if kind == "random":
        return draw(st.sampled_from(["traces", "logs"])), encoding, draw(st.binary(max_size=256))
    if kind == "message":
        message = draw(st.one_of(trace_requests(), log_requests()))
        signal_name = "logs" if isinstance(message, ExportLogsServiceRequest) else "traces"
        if encoding == "protobuf":
            return signal_name, encoding, message.SerializeToString()
        return signal_name, encoding, otlp_json(message)
    signal_name, encoding, body = draw(st.sampled_from([s for s in seeds() if s[1] in encodings]))
    if encoding == "json" and draw(st.booleans()):
        return signal_name, encoding, draw(mutated_json(body))
    return signal_name, encoding, draw(mutated_bytes(body))
