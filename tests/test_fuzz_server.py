"""Fuzzing the real server: hostile bodies over OTLP/HTTP (protobuf, JSON) and gRPC.

Each request goes to a project of its own, which marks what it stored. The server
must answer every body with success or a client error (never a 500, nor a 503 for a
body that can never succeed), store nothing of a request it refused, store every span
of one it accepted (as the same pipeline run in process counts them), and stay up.
"""

from __future__ import annotations

import gzip
import itertools
from collections.abc import Iterator
from datetime import timedelta

import grpc
import httpx
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from collector.body import Encoding, Signal
from collector.errors import IngestError
from collector.limits import Limits
from collector.pipeline import prepare
from store.batch import SpanBatch
from store.models import LogRecord, Project, Span
from tests.databases import fresh_database
from tests.fuzz_seeds import Seed
from tests.fuzzing import bodies, examples
from tests.otlp import JSON, PROTOBUF
from tests.server import Server

LIMITS = Limits(
    max_body_bytes=512 * 1024, max_items=40, max_attributes=16, max_value_bytes=2048,
    max_value_depth=8,
)  # fmt: skip
ENV = {
    "REASONLENS_MAX_BODY_BYTES": str(LIMITS.max_body_bytes),
    "REASONLENS_MAX_SPANS_PER_REQUEST": str(LIMITS.max_items),
    "REASONLENS_MAX_ATTRIBUTES_PER_SPAN": str(LIMITS.max_attributes),
    "REASONLENS_MAX_ATTRIBUTE_VALUE_BYTES": str(LIMITS.max_value_bytes),
    "REASONLENS_MAX_VALUE_DEPTH": str(LIMITS.max_value_depth),
}
GRPC_METHODS = {
    "traces": "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
    "logs": "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
}
# Client errors: bad body (400), too large (413), and a refused whole request on gRPC.
HTTP_REFUSALS = {400, 413}
GRPC_REFUSALS = {grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.RESOURCE_EXHAUSTED}
_projects = itertools.count()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with fresh_database(tmp_path_factory.mktemp("db")) as url:
        running = Server(url, env=ENV).start()
        try:
            yield running
            # Every body was answered; a worker that died or a bug the pipeline caught
            # and logged (the normalizer's guard) would show here.
            assert running.process is not None and running.process.poll() is None
            assert httpx.get(f"{running.url}/healthz", timeout=10).json()["status"] == "ok"
            assert "Traceback" not in running.output(), running.output()[-5000:]
        finally:
            running.close()


@pytest.fixture(scope="module")
def channel(server: Server) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(server.grpc_target) as open_channel:
        yield open_channel


def stored(server: Server, project: str) -> int:
    """Spans and log records in ``project``."""
    count = 0
    with server.engine.connect() as connection:
        for model in (Span, LogRecord):
            count += connection.execute(
                sa.select(sa.func.count())
                .select_from(model)
                .join(Project, Project.id == model.project_id)
                .where(Project.name == project)
            ).scalar_one()
    return count


def expected(signal: str, encoding: str, body: bytes, content_encoding: str | None) -> int | None:
    """What the server should store: the pipeline in process (None: refused whole).
    Spans sent twice in one request (same trace and span id) are stored once."""
    try:
        prepared = prepare(
            Signal(signal), body, Encoding.PROTOBUF if encoding == "protobuf" else Encoding.JSON,
            content_encoding, "p", LIMITS, sqlite=False,
        )  # fmt: skip
    except IngestError:
        return None
    batch = prepared.batch
    if isinstance(batch, SpanBatch):
        return len({(row[0], row[1]) for _, rows in batch.groups for row in rows})
    return batch.size


FUZZ = settings(
    deadline=timedelta(seconds=30),  # one request; a loaded machine may queue it
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@settings(FUZZ, max_examples=examples(250))
@given(body=bodies(), gzipped=st.sampled_from([False, False, False, True]))
def test_http_answers_every_body_and_stores_all_or_nothing(
    server: Server, body: Seed, gzipped: bool
) -> None:
    signal, encoding, raw = body
    project = f"fuzz-http-{next(_projects)}"
    headers = {**(PROTOBUF if encoding == "protobuf" else JSON), "x-reasonlens-project": project}
    content = raw
    if gzipped:
        headers["Content-Encoding"] = "gzip"
        content = gzip.compress(raw, compresslevel=1)
    response = httpx.post(f"{server.url}/v1/{signal}", content=content, headers=headers, timeout=60)
    want = expected(signal, encoding, content, headers.get("Content-Encoding"))
    event(f"HTTP {response.status_code}, {'items' if want else 'nothing'} stored")
    if want is None:
        assert response.status_code in HTTP_REFUSALS, response.text[:500]
        assert stored(server, project) == 0
    else:
        assert response.status_code == 200, response.text[:500]
        assert stored(server, project) == want


@settings(FUZZ, max_examples=examples(30))
@given(body=bodies(encodings=("protobuf",)))
def test_grpc_answers_every_body_and_stores_all_or_nothing(
    server: Server, channel: grpc.Channel, body: Seed
) -> None:
    signal, _, raw = body
    project = f"fuzz-grpc-{next(_projects)}"
    call = channel.unary_unary(GRPC_METHODS[signal])
    want = expected(signal, "protobuf", raw, None)
    try:
        call(raw, metadata=(("x-reasonlens-project", project),), timeout=60)
        event("gRPC OK")
    except grpc.RpcError as error:
        event(f"gRPC {error.code().name}")
        assert want is None and error.code() in GRPC_REFUSALS, (error.code(), error.details())
        assert stored(server, project) == 0
        return
    assert want is not None
    assert stored(server, project) == want
