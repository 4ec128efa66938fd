"""Bad input gets a clear error, changes nothing, and leaves the server healthy."""

from __future__ import annotations

import gzip
from collections.abc import Iterator

import httpx
import pytest
from google.rpc.status_pb2 import Status

from store.models import Span
from tests.databases import fresh_database
from tests.otlp import JSON, Ids, SpanSpec, post, request
from tests.paths import SHARED_FIXTURES
from tests.server import Server

LIMIT = 64 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server with a small body limit, so oversize cases stay cheap."""
    with fresh_database(tmp_path_factory.mktemp("db")) as url:
        running = Server(url, env={"REASONLENS_MAX_BODY_BYTES": str(LIMIT)}).start()
        try:
            yield running
        finally:
            running.close()


@pytest.fixture(autouse=True)
def nothing_stored_and_still_healthy(server: Server, project: str) -> Iterator[None]:
    yield
    assert server.count(Span, project) == 0
    assert httpx.get(f"{server.url}/healthz").json()["status"] == "ok"


def status_message(response: httpx.Response) -> str:
    if response.headers["content-type"].startswith("application/json"):
        return str(response.json()["message"])
    status = Status()
    status.ParseFromString(response.content)
    return status.message


def one_span_request(seed: str, size: int = 0) -> bytes:
    ids = Ids(seed)
    spec = SpanSpec(ids.trace(), ids.span(), "s", 1, 2, attributes={"pad": "x" * size})
    return request([spec]).SerializeToString()


def test_malformed_protobuf(server: Server, project: str) -> None:
    response = post(server.url, b"\xff\xff\xff\xff not protobuf", project=project)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/x-protobuf"
    assert "not a valid OTLP ExportTraceServiceRequest" in status_message(response)


def test_truncated_protobuf(server: Server, project: str) -> None:
    body = one_span_request(project)
    response = post(server.url, body[: len(body) // 2], project=project)
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "not valid JSON"),
        ((SHARED_FIXTURES / "otlp2parquet/invalid/malformed.json").read_bytes(), "not valid JSON"),
        (b"[1, 2]", "expected a JSON object"),
        (b'{"resourceSpans": {"oops": 1}}', "$.resourceSpans: expected a JSON array"),
        (
            (SHARED_FIXTURES / "otlp2parquet/invalid/trace_invalid_kind.json").read_bytes(),
            "spans[0].kind: unknown value 'SPAN_KIND_INVALID_TYPE'",
        ),
        (
            b'{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"' + b"ab" * 16
            + b'","spanId":"' + b"cd" * 8 + b'","startTimeUnixNano":"soon"}]}]}]}',
            "startTimeUnixNano: expected an integer",
        ),
    ],
)  # fmt: skip
def test_malformed_json(server: Server, project: str, body: bytes, message: str) -> None:
    response = post(server.url, body, JSON, project=project)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert message in response.json()["message"]
    assert response.json()["code"] == 3  # INVALID_ARGUMENT


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", ""])
def test_wrong_content_type(server: Server, project: str, content_type: str) -> None:
    response = post(server.url, b"{}", {"Content-Type": content_type}, project=project)
    assert response.status_code == 415
    assert "application/x-protobuf or application/json" in response.json()["message"]


def test_get_is_not_allowed(server: Server) -> None:
    assert httpx.get(f"{server.url}/v1/traces").status_code == 405


def test_oversize_body(server: Server, project: str) -> None:
    response = post(server.url, one_span_request(project, size=LIMIT), project=project)
    assert response.status_code == 413
    assert f"limit of {LIMIT}" in status_message(response)


def test_oversize_after_decompression(server: Server, project: str) -> None:
    body = gzip.compress(one_span_request(project, size=LIMIT * 4))
    assert len(body) < LIMIT
    response = post(server.url, body, {"Content-Encoding": "gzip"}, project=project)
    assert response.status_code == 413
    assert "after decompression" in status_message(response)


def test_gzip_bomb(server: Server, project: str) -> None:
    bomb = gzip.compress(b"\0" * (1 << 30), compresslevel=9)  # 1 GiB of zeros in ~1 MB
    response = post(server.url, bomb[:LIMIT], {"Content-Encoding": "gzip"}, project=project)
    assert response.status_code == 413


def test_corrupt_gzip(server: Server, project: str) -> None:
    response = post(server.url, b"\x1f\x8b not gzip", {"Content-Encoding": "gzip"},
                    project=project)  # fmt: skip
    assert response.status_code == 400
    assert "not valid gzip" in status_message(response)


def test_unknown_content_encoding(server: Server, project: str) -> None:
    response = post(server.url, one_span_request(project), {"Content-Encoding": "br"},
                    project=project)  # fmt: skip
    assert response.status_code == 400
    assert "unsupported Content-Encoding" in status_message(response)


@pytest.mark.parametrize("name", ["", "p" * 201])
def test_bad_project_header(server: Server, name: str) -> None:
    response = post(server.url, one_span_request(name), {"x-reasonlens-project": name})
    assert response.status_code == 400
    assert "x-reasonlens-project" in status_message(response)
