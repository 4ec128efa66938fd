"""Keys and roles at the doors: OTLP over HTTP and gRPC with the real SDK exporters,
the API by role, and ``serve`` refusing the network without sign-in.

One server for the module: it starts in local mode (no user), where a key is optional;
the first user turns sign-in on for the rest of the module.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import pytest
import sqlalchemy as sa
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
    OTLPSpanExporter as GrpcSpanExporter,
)
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter

from reasonlens.exposure import exposure_problem
from reasonlens.settings import Settings
from store import api_keys, audit, users
from store.engine import create_engine
from store.models import Project, Trace, User
from tests.access_site import short_ttl_server
from tests.databases import fresh_database
from tests.otlp import Ids, SpanSpec, post, request
from tests.server import Server, free_port
from web.csrf import csrf_token

REASONLENS = str(Path(sys.executable).with_name("reasonlens"))
EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
PASSWORD = "a long enough password"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with short_ttl_server(tmp_path_factory) as running:
        yield running


def _key(server: Server, project: str, *scopes: str) -> api_keys.NewKey:
    with server.engine.begin() as connection:
        return api_keys.create_key(connection, project, "test", scopes, actor="test")


def _sign_in_on(server: Server) -> None:
    with server.engine.begin() as connection:
        if connection.scalar(sa.select(sa.func.count()).select_from(User)) == 0:
            users.create_user(connection, "owner@example.com", PASSWORD, admin=True, actor="test")


def _traces_in(server: Server, project: str) -> set[str]:
    with server.engine.connect() as connection:
        rows = connection.execute(
            sa.select(Trace.trace_id)
            .join(Project, Project.id == Trace.project_id)
            .where(Project.name == project)
        )
        return set(rows.scalars())


def _sdk_export(exporter: SpanExporter, resource_project: str) -> str:
    """One span through the SDK; its trace id."""
    provider = TracerProvider(
        resource=Resource({"service.name": "keys", "reasonlens.project": resource_project})
    )
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with provider.get_tracer("keys").start_as_current_span("work") as span:
        trace_id = format(span.get_span_context().trace_id, "032x")
    provider.shutdown()
    return trace_id


def _one_span(name: str) -> bytes:
    """One span whose trace id is ``Ids(name).trace()``."""
    ids = Ids(name)
    spec = SpanSpec(ids.trace(), ids.span(), name, 1_000, 2_000)
    return request([spec], {"service.name": "keys"}).SerializeToString()


def test_local_mode_takes_spans_without_a_key_but_refuses_a_bad_one(server: Server) -> None:
    assert post(server.url, _one_span("local"), project="local").status_code == 200
    bad = {"authorization": "Bearer rl_" + "x" * 43}
    refused = post(server.url, _one_span("local-bad"), headers=bad, project="local")
    assert refused.status_code == 401 and "invalid or revoked" in refused.text
    assert Ids("local-bad").trace() not in _traces_in(server, "local")
    page = httpx.get(f"{server.url}/traces")
    assert page.status_code == 200 and "Local mode" in page.text


def test_otlp_http_needs_a_key_with_ingest_and_the_key_decides_the_project(
    server: Server,
) -> None:
    _sign_in_on(server)
    ingest = _key(server, "keys-http", "ingest")
    reader = _key(server, "keys-http", "read")

    missing = post(server.url, _one_span("no-key"))
    assert missing.status_code == 401 and "API key is required" in missing.text
    wrong_scope = post(server.url, _one_span("read-key"), headers={"x-api-key": reader.secret})
    assert wrong_scope.status_code == 403 and "ingest" in wrong_scope.text
    elsewhere = post(
        server.url, _one_span("other"), headers={"x-api-key": ingest.secret}, project="other"
    )
    assert elsewhere.status_code == 403
    assert _traces_in(server, "keys-http") == set() and _traces_in(server, "other") == set()

    # The real exporter, as OTEL_EXPORTER_OTLP_HEADERS configures it; its resource names
    # another project, and the key wins.
    exporter = OTLPSpanExporter(
        endpoint=f"{server.url}/v1/traces",
        headers={"authorization": f"Bearer {ingest.secret}"},
    )
    trace_id = _sdk_export(exporter, resource_project="someone-else")
    assert _traces_in(server, "keys-http") == {trace_id}
    assert _traces_in(server, "someone-else") == set()


def test_otlp_grpc_answers_unauthenticated_and_permission_denied(server: Server) -> None:
    _sign_in_on(server)
    ingest = _key(server, "keys-grpc", "ingest")
    reader = _key(server, "keys-grpc", "read")
    with grpc.insecure_channel(server.grpc_target) as channel:
        call = channel.unary_unary(EXPORT)
        for metadata, code in (
            ((), grpc.StatusCode.UNAUTHENTICATED),
            ((("authorization", "Bearer rl_" + "y" * 43),), grpc.StatusCode.UNAUTHENTICATED),
            ((("x-api-key", reader.secret),), grpc.StatusCode.PERMISSION_DENIED),
        ):
            with pytest.raises(grpc.RpcError) as refused:
                call(_one_span("grpc-refused"), metadata=metadata, timeout=30)
            assert refused.value.code() == code
    exporter = GrpcSpanExporter(
        endpoint=server.grpc_target, insecure=True, headers={"x-api-key": ingest.secret}
    )
    trace_id = _sdk_export(exporter, resource_project="keys-grpc-resource")
    assert _traces_in(server, "keys-grpc") == {trace_id}


def test_a_revoked_key_is_refused_within_the_cache_time(server: Server) -> None:
    _sign_in_on(server)
    made = _key(server, "keys-revoke", "ingest", "read")
    headers = {"x-api-key": made.secret}
    assert post(server.url, _one_span("before"), headers=headers).status_code == 200
    assert httpx.get(f"{server.url}/api/traces", headers=headers).status_code == 200
    with server.engine.begin() as connection:
        api_keys.revoke_key(connection, made.record.prefix, actor="test")
    time.sleep(0.2)  # REASONLENS_CREDENTIALS_TTL_SECONDS is 0.05 here
    assert post(server.url, _one_span("after"), headers=headers).status_code == 401
    assert httpx.get(f"{server.url}/api/traces", headers=headers).status_code == 401


def test_the_api_needs_a_key_or_a_session_once_sign_in_is_on(server: Server) -> None:
    _sign_in_on(server)
    assert httpx.get(f"{server.url}/api/traces").status_code == 401
    page = httpx.get(f"{server.url}/traces?project=x")
    assert page.status_code == 303
    assert page.headers["location"] == "/login?next=%2Ftraces%3Fproject%3Dx"
    assert "Local mode" not in httpx.get(f"{server.url}/login").text
    assert httpx.get(f"{server.url}/healthz").status_code == 200


def _signed_in(server: Server, email: str, project: str, role: str) -> httpx.Client:
    with server.engine.begin() as connection:
        users.create_user(connection, email, PASSWORD, actor="test")
        users.grant(connection, email, project, role, actor="test")
    client = httpx.Client(base_url=server.url, timeout=30)
    answer = client.post("/login", data={"email": email, "password": PASSWORD})
    assert answer.status_code == 303
    client.headers["x-csrf-token"] = csrf_token(client.cookies["reasonlens_session"])
    return client


def test_roles_read_write_and_admin(server: Server) -> None:
    _sign_in_on(server)
    project = "keys-roles"
    suite = json.dumps(
        {"name": "s", "select": {"project": project}, "evaluators": [{"latency": {"max_ms": 9}}]}
    )
    price = {"project": project, "model": "m", "input_usd_per_mtok": 1, "output_usd_per_mtok": 1}
    viewer = _signed_in(server, "viewer@example.com", project, "viewer")
    editor = _signed_in(server, "editor@example.com", project, "editor")
    admin = _signed_in(server, "admin@example.com", project, "admin")
    try:
        assert viewer.get("/api/suites", params={"project": project}).status_code == 200
        refused = viewer.post("/api/suites", json={"definition": suite})
        assert refused.status_code == 403 and "write" in refused.text, refused.text
        assert editor.post("/api/suites", json={"definition": suite}).status_code == 201
        assert editor.post("/api/prices", json=price).status_code == 403
        assert admin.post("/api/prices", json=price).status_code == 201
        keys_page = admin.get("/settings/keys", params={"project": project})
        assert keys_page.status_code == 200 and "Make key" in keys_page.text
        assert editor.get("/settings/keys", params={"project": project}).status_code == 403
        assert editor.get("/settings/prices", params={"project": project}).status_code == 200
    finally:
        for client in (viewer, editor, admin):
            client.close()
    with server.engine.connect() as connection:
        entries = audit.entries(connection)
    made = [e for e in entries if e.action == "suite.create" and e.project == project]
    assert [e.actor for e in made] == ["user:editor@example.com"]


def test_a_user_without_a_project_sees_nothing(server: Server) -> None:
    _sign_in_on(server)
    with server.engine.begin() as connection:
        users.create_user(connection, "nobody@example.com", PASSWORD, actor="test")
    with httpx.Client(base_url=server.url) as client:
        client.post("/login", data={"email": "nobody@example.com", "password": PASSWORD})
        for path in ("/traces", "/api/traces", "/api/traces.csv"):
            answer = client.get(path)
            assert answer.status_code == 403 and "no role in any project" in answer.text


def test_serve_refuses_the_network_without_users(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'open.db'}"
    result = subprocess.run(
        [REASONLENS, "serve", "--host", "0.0.0.0", "--port", str(free_port()), "--db", url],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "refusing to serve on 0.0.0.0 without sign-in" in result.stderr
    assert "reasonlens users create" in result.stderr and "--insecure" in result.stderr
    assert exposure_problem(Settings(database_url=url, host="0.0.0.0", insecure=True)) is None
    assert exposure_problem(Settings(database_url=url, host="127.0.0.1")) is None
    assert exposure_problem(Settings(database_url=url, host="::1")) is None
    with fresh_database(tmp_path) as other:
        settings = Settings(database_url=other, host="0.0.0.0")
        assert exposure_problem(settings) is not None  # migrated by the check, still no user
        engine = create_engine(other)
        with engine.begin() as connection:
            users.create_user(connection, "ops@example.com", PASSWORD, admin=True, actor="cli")
        engine.dispose()
        assert exposure_problem(settings) is None
