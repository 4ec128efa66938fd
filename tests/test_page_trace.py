"""The trace page on a real server: waterfall, span panel, reasoning chain, errors as
pages, large traces (data and HTML reader: tests/trace_pages.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from reasonlens.demo.script import Feature
from tests.demo_data import Loaded
from tests.otlp import SpanSpec, post, request
from tests.server import Server
from tests.trace_pages import DEMO, LARGE, PANEL, WORKFLOW, Large, page, panel, read
from tests.workflows import multi_agent
from tests.workflows.multi_agent import Workflow

# --- The multi-agent workflow: tree, panel, chain ------------------------------------

TREE_ORDER = [
    ("planner", 0), ("plan", 1), ("researcher", 1), ("research_call", 2), ("search_docs", 2),
    ("research_summary", 2), ("writer", 1), ("draft", 2), ("approval", 2),
    ("after_approval", 2), ("send_email", 2), ("answer", 1),
]  # fmt: skip


def test_waterfall_rows_follow_the_tree(server: Server, workflow: Workflow) -> None:
    html = page(server, workflow.trace_id, WORKFLOW)
    role_of = {span_id: role for role, span_id in workflow.span_ids.items()}
    assert [(role_of[row.span_id], row.depth) for row in html.rows] == TREE_ORDER
    assert not any("err" in row.classes for row in html.rows)  # nothing failed here
    assert "invoke_agent planner" in html.text and multi_agent.TASK in html.text
    assert "gpt-4.1-mini-2025-04-14 · 1,102 → 296 tok" in html.text
    assert f"/sessions/{multi_agent.SESSION_ID}?project={WORKFLOW}" in html.hrefs


def test_a_model_call_panel_shows_roles_messages_tool_calls_and_tokens(
    server: Server, workflow: Workflow
) -> None:
    html = panel(server, workflow.trace_id, workflow.span_ids["research_summary"], WORKFLOW)
    text = html.text
    assert "Input messages 3" in text and "Output messages 1" in text
    assert "result of call_s1" in text and "HC-2210" in text  # the tool message
    assert "calls search_docs call_s1" in text  # the assistant's earlier tool call
    assert multi_agent.FACTS in text
    assert "1,544 212 \u2013 896" in text  # input, output, reasoning (unknown), cached
    assert "claude-sonnet-4-5 → claude-sonnet-4-5-20250929" in text
    assert "anthropic" in text


def test_a_tool_panel_shows_arguments_result_and_events(server: Server, workflow: Workflow) -> None:
    text = panel(server, workflow.trace_id, workflow.span_ids["approval"], WORKFLOW).text
    assert 'Tool arguments { "actions": [ "send_email" ]' in text
    assert '"decision": "approved"' in text and "APR-730115" in text
    assert "approval.requested" in text and "approval.decided +1 min 34 s" in text
    assert "request_approval" in text and "call_a1" in text


def test_the_chain_reads_the_workflow_as_steps(server: Server, workflow: Workflow) -> None:
    html = page(server, workflow.trace_id, WORKFLOW, view="chain")
    role_of = {span_id: role for role, span_id in workflow.span_ids.items()}
    steps = [
        (next(c[5:] for c in step.classes if c.startswith("step-")), role_of[step.span_id])
        for step in html.steps
    ]
    assert steps == [
        ("task", "planner"), ("decision", "plan"),
        ("task", "researcher"), ("decision", "research_call"),
        ("tool_call", "search_docs"), ("result", "search_docs"),
        ("decision", "research_summary"), ("answer", "researcher"),
        ("task", "writer"), ("thought", "draft"), ("decision", "draft"),
        ("tool_call", "approval"), ("result", "approval"),
        ("decision", "after_approval"), ("tool_call", "send_email"), ("result", "send_email"),
        ("answer", "writer"), ("decision", "answer"), ("answer", "planner"),
    ]  # fmt: skip
    assert [step.depth for step in html.steps[:4]] == [0, 1, 1, 2]
    for tokens in ("1,210", "936", "1,544", "1,102", "1,498", "1,652"):
        assert f"context {tokens} tokens" in html.text
    assert "Draft ready; asking for approval to send." in html.text
    assert 'calls request_approval({"actions"' in html.text
    assert "context from 1,210 to 1,652 tokens (largest 1,652)" in html.text


def test_the_chain_view_keeps_a_selected_span(server: Server, workflow: Workflow) -> None:
    draft = workflow.span_ids["draft"]
    html = page(server, workflow.trace_id, WORKFLOW, view="chain", span=draft)
    assert {step.span_id for step in html.steps if "sel" in step.classes} == {draft}
    assert "Draft ready; asking for approval to send." in html.text


def test_reasoning_and_confidence_show_in_the_panel_and_the_chain(server: Server) -> None:
    """A reasoning model's thought (an OTel ``reasoning`` part) and a decision's confidence."""
    trace_id, span_id, project = "4e" * 16, "4f" * 8, "page-trace-reasoning"
    output = [{"role": "assistant", "finish_reason": "stop", "parts": [
        {"type": "reasoning", "content": "The refund is under the limit, so approve it."},
        {"type": "text", "content": "Approved: the refund goes out today."},
    ]}]  # fmt: skip
    attributes = {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "o4-mini",
        "gen_ai.usage.input_tokens": 812,
        "gen_ai.usage.output_tokens": 300,
        "gen_ai.usage.reasoning.output_tokens": 256,
        "gen_ai.output.messages": orjson.dumps(output).decode(),
        "decision.confidence": 0.87,
    }
    spans = [SpanSpec(trace_id, span_id, "chat o4-mini", 1_000, 9_000, attributes=attributes)]
    assert post(server.url, request(spans), project=project).status_code == 200
    text = panel(server, trace_id, span_id, project).text
    assert "Reasoning The refund is under the limit, so approve it." in text
    assert "Confidence 0.87 (decision.confidence)" in text
    assert "812 300 256" in text  # input, output, reasoning tokens
    chain = page(server, trace_id, project, view="chain")
    assert [step.classes[1] for step in chain.steps] == ["step-thought", "step-decision"]
    assert "Thought o4-mini The refund is under the limit" in chain.text
    assert "context 812 tokens" in chain.text and "256 reasoning tokens" in chain.text
    assert "confidence 0.87" in chain.text and "Approved: the refund goes out today." in chain.text


# --- Demo traffic: log-event content, failures ---------------------------------------


def _walk(spans: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for span in spans:
        yield span
        yield from _walk(span["children"])


def _demo_trace(demo: Loaded, agent: str, feature: Feature | None = None) -> str:
    return next(
        trace.trace_id
        for trace in demo.summary.traces
        if trace.agent == agent and (feature is None or feature in trace.features)
    )


def test_log_event_messages_show_in_the_panel(server: Server, demo: Loaded) -> None:
    trace_id = _demo_trace(demo, "research")
    detail = httpx.get(f"{server.url}/api/traces/{trace_id}", params={"project": DEMO}).json()
    model_call = next(s for s in detail["spans"][0]["children"] if s["kind"] == "llm")
    assert model_call["attributes"].get("gen_ai.input.messages") is None  # content is in logs
    text = panel(server, trace_id, model_call["span_id"], DEMO).text
    assert "You are a research assistant for Northwind" in text
    assert model_call["input_messages"][-1]["content"] in text
    assert "gen_ai.system.message" in text and "gen_ai.user.message" in text
    assert f"Log records {len(model_call['logs'])}" in text


def test_the_chain_reads_answers_that_arrived_as_log_events(server: Server, demo: Loaded) -> None:
    trace_id = _demo_trace(demo, "research")
    detail = httpx.get(f"{server.url}/api/traces/{trace_id}", params={"project": DEMO}).json()
    html = page(server, trace_id, DEMO, view="chain")
    last_call = [s for s in detail["spans"][0]["children"] if s["kind"] == "llm"][-1]
    assert " ".join(last_call["output_text"][:200].split()) in html.text
    assert html.steps[-2].span_id == last_call["span_id"]


def test_failed_spans_are_highlighted(server: Server, demo: Loaded) -> None:
    trace_id = _demo_trace(demo, "support", Feature.FAILED)
    detail = httpx.get(f"{server.url}/api/traces/{trace_id}", params={"project": DEMO}).json()
    html = page(server, trace_id, DEMO)
    failed = [row for row in html.rows if "err" in row.classes]
    assert len(failed) == detail["error_count"] > 0
    assert "err" in html.rows[0].classes  # the run failed, so the root did
    spans = list(_walk(detail["spans"]))
    failing = next(span for span in spans if span["status"] == "error" and span["parent_span_id"])
    text = panel(server, trace_id, failing["span_id"], DEMO).text
    assert failing["error_type"] in text and failing["error_message"][:100] in text
    # A rejected call reports no usage: its context is told in messages instead.
    assert failing["input_tokens"] is None
    chain = page(server, trace_id, DEMO, view="chain")
    assert f"context {len(failing['input_messages'])} messages" in chain.text


def test_every_demo_trace_page_and_chain_renders(server: Server, demo: Loaded) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        for trace in demo.summary.traces:
            for view in ("timeline", "chain"):
                response = client.get(f"/traces/{trace.trace_id}", params={"view": view})
                assert response.status_code == 200, (trace.trace_id, view)


# --- Errors are pages ----------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/traces/not-a-trace-id",
        f"/traces/{'0' * 32}",
        f"/traces/{'0' * 31}g",
        f"/traces/{'0' * 32}/spans/{'0' * 16}",
        f"/traces/{'0' * 32}/value?path=[]",
    ],
)
def test_unknown_or_malformed_ids_are_404_pages(server: Server, path: str) -> None:
    response = httpx.get(f"{server.url}{path}", headers=PANEL)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "404" in response.text and "Traceback" not in response.text


def test_an_unknown_span_or_project_is_a_404_page(server: Server, workflow: Workflow) -> None:
    base = f"{server.url}/traces/{workflow.trace_id}"
    for url, params in (
        (base, {"project": WORKFLOW, "span": "0" * 16}),
        (base, {"project": WORKFLOW, "span": "<b>"}),
        (base, {"project": "no-such-project"}),
        (base, {"project": WORKFLOW, "view": "chain", "offset": "19"}),
        (f"{base}/spans/{'1' * 16}", {"project": WORKFLOW}),
    ):
        response = httpx.get(url, params=params, headers=PANEL)
        assert response.status_code == 404, url
        assert "<b>" not in response.text


def test_bad_parameters_are_400_pages(server: Server, workflow: Workflow) -> None:
    base = f"{server.url}/traces/{workflow.trace_id}"
    span = workflow.span_ids["plan"]
    for url, params in (
        (base, {"view": "nope"}),
        (base, {"view": "chain", "offset": "-1"}),
        (f"{base}/spans/{span}/value", {"project": WORKFLOW, "path": "not json"}),
    ):
        response = httpx.get(url, params=params)
        assert response.status_code == 400, (url, params)
        assert response.headers["content-type"].startswith("text/html")
    missing = httpx.get(f"{base}/spans/{span}/value", params={"project": WORKFLOW, "path": '["x"]'})
    assert missing.status_code == 404


def test_an_id_in_two_projects_gets_a_page_linking_both(server: Server) -> None:
    trace_id, span_id = "77" * 16, "78" * 8
    for project in ("page-trace-twin-a", "page-trace-twin-b"):
        spans = [SpanSpec(trace_id, span_id, f"run in {project}", 1_000, 2_000)]
        assert post(server.url, request(spans), project=project).status_code == 200
    html = page(server, trace_id, None)
    assert f"/traces/{trace_id}?project=page-trace-twin-a" in html.hrefs
    assert f"/traces/{trace_id}?project=page-trace-twin-b" in html.hrefs
    assert not html.rows
    assert [row.span_id for row in page(server, trace_id, "page-trace-twin-b").rows] == [span_id]
    fragment = httpx.get(f"{server.url}/traces/{trace_id}/spans/{span_id}", headers=PANEL)
    assert fragment.status_code == 400 and "several projects" in fragment.text


def test_the_panel_route_sends_browsers_without_script_to_the_page(
    server: Server, workflow: Workflow
) -> None:
    span = workflow.span_ids["plan"]
    response = httpx.get(
        f"{server.url}/traces/{workflow.trace_id.upper()}/spans/{span}",
        params={"project": WORKFLOW},
    )
    assert response.status_code == 303
    assert response.headers["location"] == (
        f"/traces/{workflow.trace_id}?project={WORKFLOW}&span={span}"
    )


# --- A large trace -------------------------------------------------------------------


def test_a_5000_span_trace_renders_every_row_without_its_big_values(
    server: Server, large: Large
) -> None:
    response = httpx.get(
        f"{server.url}/traces/{large.trace_id}", params={"project": LARGE}, timeout=30
    )
    assert response.status_code == 200
    html = read(response.text)
    assert len(html.rows) == 5_000
    assert max(row.depth for row in html.rows) == 2
    assert sum("err" in row.classes for row in html.rows) == large.errors > 0
    # About 350 bytes a row: names, bars and labels only; attributes wait for the panel.
    assert len(response.content) < 5_000 * 500
    assert "ledger row; ledger row; ledger row;" not in response.text


def test_a_1mb_value_is_clipped_with_show_all(server: Server, large: Large) -> None:
    response = httpx.get(
        f"{server.url}/traces/{large.trace_id}/spans/{large.huge_span}",
        params={"project": LARGE},
        headers=PANEL,
        timeout=30,
    )
    assert response.status_code == 200
    assert len(response.content) < 100_000
    html = read(response.text)
    # The tool result, and the two raw attributes it came from and was copied to.
    assert html.text.count("more characters · show all") == 3
    value_urls = [href for href in html.hrefs if "/value?" in href]
    full = httpx.get(f"{server.url}{value_urls[-1]}", timeout=30)
    assert full.status_code == 200 and full.headers["content-type"].startswith("text/plain")
    assert len(full.text) == 1_000_000 and full.text.startswith("ledger row; ")


def test_a_large_trace_chain_is_paged(server: Server, large: Large) -> None:
    html = page(server, large.trace_id, LARGE, view="chain")
    assert len(html.steps) == 500
    assert "steps 1\u2013500 of" in html.text
    later = page(server, large.trace_id, LARGE, view="chain", offset="500")
    assert html.steps[0].span_id != later.steps[0].span_id
