"""The hand-written multi-agent workflow, sent with the real SDK exporter, is stored as built.

One export per module (the workflow is immutable); each test reads one aspect of it
back through GET /api/traces/{id} or the database.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

from store.models import Project, Span
from tests.server import Server
from tests.workflows import multi_agent
from tests.workflows.multi_agent import KINDS, TREE, Workflow

PROJECT = "workflow-multi-agent"


@pytest.fixture(scope="module")
def workflow(server: Server) -> Workflow:
    exporter = OTLPSpanExporter(
        endpoint=f"{server.url}/v1/traces", headers={"x-reasonlens-project": PROJECT}
    )
    provider = multi_agent.tracer_provider(exporter)
    try:
        return multi_agent.emit(provider)
    finally:
        provider.shutdown()


@pytest.fixture(scope="module")
def detail(server: Server, workflow: Workflow) -> dict[str, Any]:
    response = httpx.get(
        f"{server.url}/api/traces/{workflow.trace_id}", params={"project": PROJECT}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture(scope="module")
def by_role(workflow: Workflow, detail: dict[str, Any]) -> dict[str, dict[str, Any]]:
    role_of = {span_id: role for role, span_id in workflow.span_ids.items()}
    return {role_of[span["span_id"]]: span for span in _walk(detail["spans"])}


def _walk(spans: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for span in spans:
        yield span
        yield from _walk(span["children"])


def test_every_span_arrived_once(server: Server, workflow: Workflow) -> None:
    assert len(workflow.span_ids) == len(KINDS) == 12
    assert server.count(Span, PROJECT) == 12


def test_tree_is_planner_delegating_to_two_workers(
    workflow: Workflow, detail: dict[str, Any], by_role: dict[str, dict[str, Any]]
) -> None:
    [root] = detail["spans"]
    assert root["span_id"] == workflow.span_ids["planner"]
    assert detail["root_span_id"] == workflow.span_ids["planner"]
    role_of = {span_id: role for role, span_id in workflow.span_ids.items()}
    for role, span in by_role.items():
        children = tuple(role_of[child["span_id"]] for child in span["children"])
        assert children == TREE.get(role, ()), role


def test_kinds_agents_and_models(
    detail: dict[str, Any], by_role: dict[str, dict[str, Any]]
) -> None:
    assert {role: span["kind"] for role, span in by_role.items()} == KINDS
    for role, version in multi_agent.AGENTS.items():
        assert (by_role[role]["agent_name"], by_role[role]["agent_version"]) == (role, version)
    for role, call in multi_agent.MODEL_CALLS.items():
        span = by_role[role]
        assert (span["provider"], span["request_model"], span["model"]) == call.model
        assert (span["input_tokens"], span["output_tokens"]) == (
            call.input_tokens,
            call.output_tokens,
        )
        assert span["input_messages"] and span["output_messages"]
    assert (detail["agent_name"], detail["agent_version"]) == ("planner", "1.2.0")
    assert (detail["session_id"], detail["user_id"]) == (
        multi_agent.SESSION_ID,
        multi_agent.USER_ID,
    )
    assert (detail["service"], detail["environment"]) == ("content-pipeline", "staging")
    assert detail["input"] == multi_agent.TASK
    assert detail["output"] == multi_agent.ANSWER


def test_tool_calls_keep_names_arguments_and_results(by_role: dict[str, dict[str, Any]]) -> None:
    for role, (name, call_id, arguments, result) in multi_agent.TOOLS.items():
        span = by_role[role]
        assert (span["tool_name"], span["tool_call_id"]) == (name, call_id)
        assert json.loads(span["tool_arguments"]) == arguments
        assert json.loads(span["tool_result"]) == result


def test_approval_is_decided_before_the_email_is_sent(by_role: dict[str, dict[str, Any]]) -> None:
    approval, send = by_role["approval"], by_role["send_email"]
    assert approval["tool_name"] == "request_approval"
    assert json.loads(approval["tool_result"])["decision"] == "approved"
    assert [event["name"] for event in approval["events"]] == [
        "approval.requested",
        "approval.decided",
    ]
    decided = approval["events"][1]
    assert decided["attributes"]["approval.decision"] == "approved"
    assert approval["end_time_unix_nano"] <= send["start_time_unix_nano"]
    assert approval["duration_ms"] >= multi_agent.APPROVAL_WAIT_MS


def test_token_totals_count_model_calls_only(workflow: Workflow, detail: dict[str, Any]) -> None:
    assert (detail["span_count"], detail["llm_call_count"], detail["tool_call_count"]) == (12, 6, 3)
    assert detail["input_tokens"] == workflow.input_tokens == 7942
    assert detail["output_tokens"] == workflow.output_tokens == 887
    assert detail["cache_read_tokens"] == workflow.cache_read_tokens == 3072
    assert detail["status"] == "ok" and detail["error_count"] == 0


def test_database_rows_match_the_tree(server: Server, workflow: Workflow) -> None:
    query = (
        sa.select(Span.span_id, Span.parent_span_id, Span.kind)
        .join(Project, Project.id == Span.project_id)
        .where(Project.name == PROJECT, Span.trace_id == workflow.trace_id)
    )
    with server.engine.connect() as connection:
        rows = {row.span_id: row for row in connection.execute(query)}
    ids = workflow.span_ids
    for parent, children in TREE.items():
        for child in children:
            assert rows[ids[child]].parent_span_id == ids[parent]
    assert rows[ids["planner"]].parent_span_id is None
    assert {role: rows[span_id].kind for role, span_id in ids.items()} == KINDS
