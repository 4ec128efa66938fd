"""Shared by the trace page tests: the traces they send over real OTLP (the hand-written
multi-agent workflow, the demo's traffic, a 5,000-span trace with a 1 MB value, a trace
written by an attacker) as module-scoped fixtures, and a reader of the page's HTML.
Registered as a pytest plugin in tests/conftest.py."""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser

import httpx
import orjson
import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

from bench.page_trace import HUGE_ATTRIBUTE, large_trace, send
from tests.demo_data import Loaded, load_demo
from tests.otlp import LogSpec, SpanSpec, key_values, logs_request, post, post_logs, request
from tests.server import Server
from tests.workflows import multi_agent
from tests.workflows.multi_agent import Workflow

WORKFLOW = "page-trace-workflow"
DEMO = "page-trace-demo"
LARGE = "page-trace-large"
HOSTILE = "page-trace-hostile"
SCRIPT = "<script>window.__xss=1</script>"
IMG = '"><img src=x onerror="window.__xss=1">'
JS_URL = "javascript:window.__xss=1"
PANEL = {"HX-Request": "true"}


# --- Reading the HTML ----------------------------------------------------------------


@dataclass
class Item:
    """A waterfall row or a chain step: its span, classes and depth."""

    span_id: str
    classes: list[str]
    depth: int


class Html(HTMLParser):
    """Rows, steps, links and text of a page, as a browser would read them."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[Item] = []
        self.steps: list[Item] = []
        self.hrefs: list[str] = []  # href and src values, entities decoded
        self.chunks: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {name: value or "" for name, value in attrs}
        self.hrefs += [value for name, value in found.items() if name in ("href", "src")]
        classes = found.get("class", "").split()
        level = re.search(r"--[dl]:(\d+)", found.get("style", ""))
        depth = int(level.group(1)) if level else 0
        if tag == "li" and "wf-row" in classes:
            self.rows.append(Item(found["data-s"], classes, depth))
        if tag == "li" and "step" in classes:
            self.steps.append(Item(found["data-s"], classes, depth))

    def handle_data(self, data: str) -> None:
        self.chunks.append(data)

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.chunks).split())


def read(html: str) -> Html:
    parsed = Html()
    parsed.feed(html)
    return parsed


def page(server: Server, trace_id: str, project: str | None, **params: str) -> Html:
    query = {"project": project, **params} if project else params
    response = httpx.get(f"{server.url}/traces/{trace_id}", params=query, timeout=30)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    return read(response.text)


def panel(server: Server, trace_id: str, span_id: str, project: str) -> Html:
    response = httpx.get(
        f"{server.url}/traces/{trace_id}/spans/{span_id}",
        params={"project": project},
        headers=PANEL,
        timeout=30,
    )
    assert response.status_code == 200, response.text
    assert "<html" not in response.text  # a fragment, not a page
    return read(response.text)


# --- Data ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def workflow(server: Server) -> Workflow:
    exporter = OTLPSpanExporter(
        f"{server.url}/v1/traces", headers={"x-reasonlens-project": WORKFLOW}
    )
    provider = multi_agent.tracer_provider(exporter)
    try:
        return multi_agent.emit(provider)
    finally:
        provider.shutdown()


@pytest.fixture(scope="module")
def demo(server: Server) -> Loaded:
    return load_demo(server, DEMO, traces=40, seed=7)


@dataclass(frozen=True)
class Large:
    trace_id: str
    huge_span: str  # the tool call whose result (and a raw attribute) is ~1 MB
    errors: int


@pytest.fixture(scope="module")
def large(server: Server) -> Large:
    """A 5,000-span trace: an orchestrator, 100 worker agents, model and tool calls."""
    trace_id = "5a" * 16
    spans = large_trace(trace_id, huge_chars=1_000_000)
    send(server.url, spans, LARGE)
    huge = next(span for span in spans if HUGE_ATTRIBUTE in span.attributes)
    return Large(trace_id, huge.span_id, sum(span.error is not None for span in spans))


@dataclass(frozen=True)
class Hostile:
    trace_id: str
    root: str
    llm: str
    tool: str


@pytest.fixture(scope="module")
def hostile(server: Server) -> Hostile:
    """A trace whose every client-written field tries to run script or smuggle a link."""
    trace_id, root, llm, tool = "e5" * 16, "e5" * 8, "e6" * 8, "e7" * 8
    t = 1_780_000_000_000_000_000
    messages = [
        {"role": IMG, "parts": [{"type": "text", "content": SCRIPT}]},
        {"role": "user", "parts": [{"type": "text", "content": f"{JS_URL} {IMG} " + SCRIPT * 90}]},
    ]
    output = [{"role": "assistant", "parts": [
        {"type": "text", "content": IMG},
        {"type": "tool_call", "id": IMG, "name": SCRIPT, "arguments": {"url": JS_URL}},
    ]}]  # fmt: skip
    spans = [
        SpanSpec(trace_id, root, SCRIPT, t, t + 50_000_000, attributes={
            "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": IMG,
            "gen_ai.conversation.id": JS_URL, "user.id": IMG,
            "gen_ai.input.messages": orjson.dumps(messages).decode(), IMG: SCRIPT,
        }),
        SpanSpec(trace_id, llm, IMG, t + 1_000_000, t + 20_000_000, root, attributes={
            "gen_ai.operation.name": "chat", "gen_ai.request.model": SCRIPT,
            "gen_ai.usage.input_tokens": 12,
            "gen_ai.input.messages": orjson.dumps(messages).decode(),
            "gen_ai.output.messages": orjson.dumps(output).decode(), JS_URL: JS_URL,
        }),
        SpanSpec(trace_id, tool, JS_URL, t + 21_000_000, t + 40_000_000, root, attributes={
            "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": SCRIPT,
            "gen_ai.tool.call.arguments": orjson.dumps({"href": JS_URL}).decode(),
            "gen_ai.tool.call.result": IMG + SCRIPT * 80,
        }, error=SCRIPT),
    ]  # fmt: skip
    body = request(spans, resource={"service.name": SCRIPT})
    event = body.resource_spans[0].scope_spans[0].spans[2].events.add()
    event.name, event.time_unix_nano = IMG, t + 30_000_000
    event.attributes.extend(key_values({"exception.message": SCRIPT, "url": JS_URL}))
    assert post(server.url, body, project=HOSTILE).status_code == 200
    logs = [LogSpec("gen_ai.user.message", {"content": IMG}, trace_id, llm, t + 2_000_000)]
    assert post_logs(server.url, logs_request(logs), project=HOSTILE).status_code == 200
    return Hostile(trace_id, root, llm, tool)
