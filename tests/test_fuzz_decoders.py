"""Fuzzing the ingest pipeline in process: decompress, decode, limit, normalize, pack.

Whatever the body, ``prepare()`` ends in one of three ways: rows (some spans perhaps
rejected one by one, reported in partial_success), or the typed refusal of the whole
request (InvalidPayload: 400, PayloadTooLarge: 413). Never another exception, never
longer than a bound, and never a row the store would refuse (``tests/storable.py``).
Bodies: random bytes, mutated real payloads (fixtures and the SDK's own encoding, in
protobuf and OTLP/JSON), and random messages built field by field.
"""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from collector.body import Encoding, Signal
from collector.errors import InvalidPayload, PayloadTooLarge
from collector.limits import DEFAULT_LIMITS, Limits
from collector.pipeline import Prepared, prepare
from collector.redact import PRESETS, parse_patterns
from tests.fuzz_messages import item_count, log_requests, trace_requests
from tests.fuzz_seeds import Seed, mutated_bytes, mutated_json, seeds
from tests.fuzzing import bodies, bounded, examples
from tests.otlp import otlp_json
from tests.storable import problems

# Small limits, so that every limit is reached by some examples; and the defaults.
SMALL = Limits(
    max_body_bytes=256 * 1024, max_items=12, max_attributes=6, max_value_bytes=512,
    max_value_depth=6,
)  # fmt: skip
LIMITS = st.sampled_from([SMALL, DEFAULT_LIMITS])
# Redaction off, or every preset on: the masks must not break a request either.
REDACTION = parse_patterns(PRESETS)
# Per example: a few ms is usual; the bounds leave room for a loaded machine and catch
# a hang or a quadratic path (a body is at most a few hundred KB here).
DEADLINE = timedelta(seconds=10)
HANG_SECONDS = 30


def fuzz(n: int) -> settings:
    return settings(
        max_examples=examples(n),
        deadline=DEADLINE,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


def run(signal: str, encoding: str, body: bytes, limits: Limits) -> Prepared | None:
    """``prepare()`` as a decode worker runs it; None when the request is refused whole.
    With the small limits, every redaction preset is on."""
    redaction = REDACTION if limits is SMALL else ()
    with bounded(HANG_SECONDS):
        try:
            kind = Encoding.PROTOBUF if encoding == "protobuf" else Encoding.JSON
            prepared = prepare(
                Signal(signal), body, kind, None, None, limits, sqlite=False, redaction=redaction
            )
        except (InvalidPayload, PayloadTooLarge) as error:
            assert error.message  # a clear message, never an empty one
            return None
    assert problems(prepared.batch) == []
    return prepared


@fuzz(150)
@given(body=bodies(), limits=LIMITS)
@example(body=("traces", "protobuf", b""), limits=SMALL)
@example(body=("traces", "json", b"{}"), limits=SMALL)
@example(body=("logs", "json", b'{"resourceLogs": [{"scopeLogs": "x"}]}'), limits=SMALL)
def test_any_body_is_stored_or_refused_cleanly(body: Seed, limits: Limits) -> None:
    run(*body, limits)


@fuzz(100)
@given(data=st.data(), limits=LIMITS)
def test_mutated_real_payloads(data: st.DataObject, limits: Limits) -> None:
    signal, encoding, body = data.draw(st.sampled_from(seeds()))
    if encoding == "json" and data.draw(st.booleans()):
        body = data.draw(mutated_json(body))
    else:
        body = data.draw(mutated_bytes(body))
    run(signal, encoding, body, limits)


def check_counts(message: ExportTraceServiceRequest | ExportLogsServiceRequest, json: bool,
                 limits: Limits) -> None:  # fmt: skip
    """Every span (log record) sent is in the rows or counted as rejected, or the whole
    request is refused."""
    signal = "logs" if isinstance(message, ExportLogsServiceRequest) else "traces"
    body = otlp_json(message) if json else message.SerializeToString()
    prepared = run(signal, "json" if json else "protobuf", body, limits)
    if prepared is None:
        return
    sent = item_count(message)
    assert sent <= limits.max_items
    assert prepared.batch.size + prepared.rejected == sent
    assert (prepared.rejected > 0) <= (prepared.error_message != "")


@fuzz(60)
@given(message=trace_requests(), json=st.booleans(), limits=LIMITS)
def test_random_trace_requests_lose_no_span_silently(
    message: ExportTraceServiceRequest, json: bool, limits: Limits
) -> None:
    check_counts(message, json, limits)


@fuzz(40)
@given(message=log_requests(), json=st.booleans(), limits=LIMITS)
def test_random_log_requests_lose_no_record_silently(
    message: ExportLogsServiceRequest, json: bool, limits: Limits
) -> None:
    check_counts(message, json, limits)


def test_the_real_payloads_are_accepted_unmutated() -> None:
    """The seeds themselves are valid: the mutations start from real traffic."""
    for signal, encoding, body in seeds():
        prepared = run(signal, encoding, body, DEFAULT_LIMITS)
        assert prepared is not None, (signal, encoding, body[:80])
        assert prepared.batch.size + prepared.rejected > 0
