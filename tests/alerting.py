"""Alert tests' peers: a server whose alert threads run fast, a loopback webhook
receiver, and agent traffic sent with the OpenTelemetry SDK.

The receiver is a real HTTP server on a free loopback port, in a thread of the test
process; each test posts to a path of its own (``receiver.url(name)``) and scripts the
statuses that path answers, in order (the last one repeats).
"""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Status, StatusCode

from store.models import Trace
from tests.databases import fresh_database
from tests.server import Server

PUBLIC_URL = "http://dashboard.example:8080"
RETRY_SECONDS = 0.3
MAX_ATTEMPTS = 3
RUNAWAY_MIN_TRACES = 8
ALERT_ENV = {
    "REASONLENS_PUBLIC_URL": PUBLIC_URL,
    "REASONLENS_ALERT_POLL_SECONDS": "0.1",
    "REASONLENS_ALERT_CHECK_SECONDS": "0.3",
    "REASONLENS_ALERT_RETRY_SECONDS": str(RETRY_SECONDS),
    "REASONLENS_ALERT_MAX_ATTEMPTS": str(MAX_ATTEMPTS),
    "REASONLENS_ALERT_WEBHOOK_TIMEOUT_SECONDS": "2",
    "REASONLENS_RUNAWAY_REFRESH_SECONDS": "0.5",
    "REASONLENS_RUNAWAY_MIN_TRACES": str(RUNAWAY_MIN_TRACES),
    # The receiver listens on loopback, which webhooks may not reach unless allowed.
    "REASONLENS_ALERT_WEBHOOK_ALLOW": "127.0.0.1/32,::1/128",
}


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    at: float  # time.monotonic()


@dataclass
class Receiver:
    """Records every POST; answers each path's scripted statuses in turn."""

    server: ThreadingHTTPServer | None = None
    received: list[Received] = field(default_factory=list)
    scripts: dict[str, list[tuple[int, bytes]]] = field(default_factory=lambda: defaultdict(list))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, name: str) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook/{name}"

    def script(self, name: str, *answers: int | tuple[int, bytes]) -> str:
        """Script the path's answers; its URL."""
        with self.lock:
            self.scripts[f"/hook/{name}"] = [
                answer if isinstance(answer, tuple) else (answer, b"") for answer in answers
            ]
        return self.url(name)

    def of(self, name: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path == f"/hook/{name}"]

    def wait_for(self, name: str, count: int, timeout: float = 20) -> list[Received]:
        return wait_until(lambda: self.of(name) if len(self.of(name)) >= count else None, timeout)

    def answer(self, path: str) -> tuple[int, bytes]:
        with self.lock:
            script = self.scripts.get(path) or [(200, b"")]
            return script.pop(0) if len(script) > 1 else script[0]


def wait_until(found: Callable[[], Any], timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = found()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"not there after {timeout}s")


def handler_for(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            body = json.loads(self.rfile.read(length) or b"null")
            headers = {key.lower(): value for key, value in self.headers.items()}
            with receiver.lock:
                receiver.received.append(Received(self.path, headers, body, time.monotonic()))
            status, text = receiver.answer(self.path)
            self.send_response(status)
            self.send_header("content-length", str(len(text)))
            self.end_headers()
            self.wfile.write(text)

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@pytest.fixture(scope="session")
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    found.server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(found))
    thread = threading.Thread(target=found.server.serve_forever, daemon=True)
    thread.start()
    yield found
    found.server.shutdown()
    found.server.server_close()


@pytest.fixture(scope="session")
def alert_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server of its own: alerts checked and sent every few tenths of a second,
    retried after 0.3 s then 0.6 s, given up after 3 attempts."""
    with fresh_database(tmp_path_factory.mktemp("alerts")) as url:
        running = Server(url, env=ALERT_ENV).start()
        try:
            yield running
        finally:
            running.close()


@dataclass(frozen=True)
class Agent:
    """One trace: ``steps`` model calls costing ``cost`` each (None: unpriced), an
    error status, and a hand-over to a person."""

    steps: int = 3
    cost: float | None = 0.01
    error: bool = False
    escalate: bool = False
    agent: str = "shop"


def send(server: Server, project: str, traces: Sequence[Agent]) -> list[str]:
    """Export the traces with the OpenTelemetry SDK; their ids, once stored."""
    provider = TracerProvider(resource=Resource({"service.name": "alerts-test"}))
    exporter = OTLPSpanExporter(
        endpoint=f"{server.url}/v1/traces", headers={"x-reasonlens-project": project}
    )
    provider.add_span_processor(BatchSpanProcessor(exporter))
    tracer = provider.get_tracer("alerts-test")
    ids = []
    for sent in traces:
        agent = {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": sent.agent}
        with tracer.start_as_current_span(f"invoke_agent {sent.agent}", attributes=agent) as root:
            ids.append(format(root.get_span_context().trace_id, "032x"))
            for _ in range(sent.steps):
                call: dict[str, Any] = {
                    "gen_ai.operation.name": "chat",
                    "gen_ai.request.model": "in-house-unpriced" if sent.cost is None else "m",
                    "gen_ai.usage.input_tokens": 100,
                    "gen_ai.usage.output_tokens": 20,
                }
                if sent.cost is not None:
                    call["gen_ai.usage.cost"] = sent.cost
                with tracer.start_as_current_span("chat", attributes=call):
                    pass
            if sent.escalate:
                tool = {
                    "gen_ai.operation.name": "execute_tool",
                    "gen_ai.tool.name": "escalate_to_human",
                }
                with tracer.start_as_current_span(
                    "execute_tool escalate_to_human", attributes=tool
                ):
                    pass
            if sent.error:
                root.set_status(Status(StatusCode.ERROR, "the agent failed"))
    assert provider.force_flush(60_000)
    provider.shutdown()
    wait_until(lambda: _stored(server, ids) == len(ids))
    return ids


def _stored(server: Server, trace_ids: list[str]) -> int:
    with server.engine.connect() as connection:
        query = sa.select(sa.func.count()).where(Trace.trace_id.in_(trace_ids))
        return int(connection.execute(query).scalar_one())


def run_suite(server: Server, suite_id: int, timeout: float = 60) -> dict[str, Any]:
    """Start a run through the API and poll it to its end."""
    started = httpx.post(f"{server.url}/api/suites/{suite_id}/runs")
    assert started.status_code == 202, started.text
    run_id = started.json()["run_id"]

    def finished() -> dict[str, Any] | None:
        run = httpx.get(f"{server.url}/api/eval-runs/{run_id}").json()
        return None if run["status"] == "running" else dict(run)

    return dict(wait_until(finished, timeout))


SUITE = """\
name: {name}
select: {{project: {project}}}
evaluators:
  - step_budget: {{max_steps: 2}}
thresholds:
  step_budget: {{pass_rate: 1.0}}
"""


def failing_suite(server: Server, project: str, name: str = "gate") -> int:
    """Four traces of three model calls ($0.01 each): one failed, one handed to a person;
    and a suite whose threshold (at most 2 steps, every trace) fails on them."""
    send(server, project, [Agent(), Agent(error=True), Agent(escalate=True), Agent()])
    created = httpx.post(
        f"{server.url}/api/suites",
        content=SUITE.format(name=name, project=project),
        headers={"content-type": "application/yaml"},
    )
    assert created.status_code == 201, created.text
    return int(created.json()["id"])


def add_rule(server: Server, **rule: Any) -> dict[str, Any]:
    response = httpx.post(f"{server.url}/api/alert-rules", json=rule)
    assert response.status_code == 201, response.text
    return dict(response.json())


def project_alerts(server: Server, project: str, **params: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{server.url}/api/alerts", params={"project": project, **params})
    assert response.status_code == 200, response.text
    return list(response.json()["alerts"])
