"""Span kind derivation: each rule of SEMCONV 6.1, in priority order."""

from __future__ import annotations

from typing import Any

import pytest

from store.vocabulary import SpanKind
from tests.test_normalize_support import run

K = SpanKind


def kind_of(attributes: dict[str, Any], name: str = "span") -> SpanKind:
    return run(attributes, name=name).kind


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("generation", K.LLM),
        ("embedding", K.EMBEDDING),
        ("agent", K.AGENT),
        ("tool", K.TOOL),
        ("retriever", K.RETRIEVAL),
        ("guardrail", K.GUARDRAIL),
        ("evaluator", K.EVALUATOR),
        ("chain", K.CHAIN),
        ("span", K.OTHER),
        ("event", K.OTHER),
        ("GENERATION", K.LLM),
    ],
)
def test_rule_1_langfuse_observation_type(value: str, expected: SpanKind) -> None:
    assert kind_of({"langfuse.observation.type": value}) is expected


def test_rule_1_wins_over_openinference() -> None:
    attributes = {"langfuse.observation.type": "tool", "openinference.span.kind": "LLM"}
    assert kind_of(attributes) is K.TOOL


def test_langfuse_span_stops_the_rules_even_with_a_model() -> None:
    attributes = {"langfuse.observation.type": "span", "gen_ai.request.model": "gpt-4o"}
    assert kind_of(attributes) is K.OTHER


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("LLM", K.LLM),
        ("llm", K.LLM),  # upper-cased first
        ("EMBEDDING", K.EMBEDDING),
        ("AGENT", K.AGENT),
        ("TOOL", K.TOOL),
        ("RETRIEVER", K.RETRIEVAL),
        ("RERANKER", K.RETRIEVAL),
        ("GUARDRAIL", K.GUARDRAIL),
        ("EVALUATOR", K.EVALUATOR),
        ("CHAIN", K.CHAIN),
        ("PROMPT", K.CHAIN),
        ("UNKNOWN", K.OTHER),
    ],
)
def test_rule_2_openinference_span_kind(value: str, expected: SpanKind) -> None:
    assert kind_of({"openinference.span.kind": value}) is expected


def test_rule_2_wins_over_the_operation_name() -> None:
    attributes = {"openinference.span.kind": "CHAIN", "gen_ai.operation.name": "chat"}
    assert kind_of(attributes) is K.CHAIN


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("chat", K.LLM),
        ("text_completion", K.LLM),
        ("generate_content", K.LLM),
        ("completion", K.LLM),
        ("generate", K.LLM),
        ("llm_request", K.LLM),
        ("embeddings", K.EMBEDDING),
        ("invoke_agent", K.AGENT),
        ("create_agent", K.AGENT),
        ("execute_tool", K.TOOL),
        ("retrieval", K.RETRIEVAL),
        ("search_memory", K.RETRIEVAL),
        ("vector_db_retrieve", K.RETRIEVAL),
        ("plan", K.REASONING),
        ("apply_guardrail", K.GUARDRAIL),
        ("invoke_workflow", K.CHAIN),
        ("execute_task", K.CHAIN),
    ],
)
def test_rule_3_genai_operation_name(value: str, expected: SpanKind) -> None:
    assert kind_of({"gen_ai.operation.name": value}) is expected


def test_unknown_operation_name_falls_through_to_later_rules() -> None:
    attributes = {"gen_ai.operation.name": "create_memory", "gen_ai.request.model": "m"}
    assert kind_of(attributes) is K.LLM


@pytest.mark.parametrize(
    ("attributes", "expected"),
    [
        ({"traceloop.span.kind": "workflow"}, K.CHAIN),
        ({"traceloop.span.kind": "task"}, K.CHAIN),
        ({"traceloop.span.kind": "agent"}, K.AGENT),
        ({"traceloop.span.kind": "tool"}, K.TOOL),
        ({"llm.request.type": "chat"}, K.LLM),
        ({"llm.request.type": "completion"}, K.LLM),
        ({"llm.request.type": "embedding"}, K.EMBEDDING),
        ({"llm.request.type": "rerank"}, K.RETRIEVAL),
    ],
)
def test_rule_4_traceloop(attributes: dict[str, Any], expected: SpanKind) -> None:
    assert kind_of(attributes) is expected


@pytest.mark.parametrize(
    ("operation", "expected"),
    [
        ("ai.generateText.doGenerate", K.LLM),
        ("ai.generateObject.doGenerate", K.LLM),
        ("ai.streamText.doStream", K.LLM),
        ("ai.streamObject.doStream", K.LLM),
        ("ai.embed.doEmbed", K.EMBEDDING),
        ("ai.embedMany.doEmbed", K.EMBEDDING),
        ("ai.toolCall", K.TOOL),
        ("ai.generateText", K.CHAIN),
        ("ai.streamText", K.CHAIN),
        ("ai.embed", K.CHAIN),
        ("ai.embedMany", K.CHAIN),
    ],
)
def test_rule_5_vercel_operation_id(operation: str, expected: SpanKind) -> None:
    # Vercel spans carry a model id on every span, so the operation must decide first.
    assert kind_of({"ai.operationId": operation, "ai.model.id": "gpt-4o"}) is expected


def test_rule_5_vercel_operation_name_prefix() -> None:
    assert kind_of({"operation.name": "ai.streamText.doStream my-fn"}) is K.LLM
    assert kind_of({"operation.name": "ai.generateText my-fn"}) is K.CHAIN
    assert kind_of({"operation.name": "GET /health"}) is K.OTHER  # not Vercel's


@pytest.mark.parametrize(
    "attributes",
    [{"gen_ai.tool.name": "search"}, {"gen_ai.tool.call.id": "c1"}, {"tool_arguments": "{}"}],
)
def test_rule_6_tool_keys(attributes: dict[str, Any]) -> None:
    assert kind_of(attributes) is K.TOOL


@pytest.mark.parametrize("name", ["execute_tool search", "running tool"])
def test_rule_6_tool_span_names(name: str) -> None:
    assert kind_of({}, name=name) is K.TOOL


@pytest.mark.parametrize("name", ["invoke_agent support", "invoke_agent", "agent run"])
def test_rule_7_agent_span_names(name: str) -> None:
    assert kind_of({}, name=name) is K.AGENT


def test_an_agent_name_alone_does_not_make_an_agent() -> None:
    # OpenLLMetry and Pydantic AI copy gen_ai.agent.name onto child spans (6.1 notes).
    assert kind_of({"gen_ai.agent.name": "support"}) is K.OTHER
    attributes = {"gen_ai.agent.name": "support", "gen_ai.request.model": "gpt-4o"}
    assert kind_of(attributes) is K.LLM


@pytest.mark.parametrize(
    "attributes",
    [
        {"gen_ai.evaluation.score.value": 0.8},
        {"gen_ai.evaluation.name": "relevance"},
        {"evaluation.name": "relevance"},
    ],
)
def test_rule_8_evaluation_keys(attributes: dict[str, Any]) -> None:
    assert kind_of(attributes) is K.EVALUATOR


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("gen_ai.request.model", K.LLM),
        ("gen_ai.response.model", K.LLM),
        ("llm.model_name", K.LLM),
        ("ai.model.id", K.LLM),
        ("langfuse.observation.model.name", K.LLM),
        ("embedding.model_name", K.EMBEDDING),
        ("reranker.model_name", K.RETRIEVAL),
    ],
)
def test_rule_9_model_attributes(key: str, expected: SpanKind) -> None:
    assert kind_of({key: "some-model"}) is expected


def test_an_empty_model_value_is_not_a_model() -> None:
    assert kind_of({"gen_ai.request.model": ""}) is K.OTHER


def test_rule_10_otherwise_other() -> None:
    assert kind_of({"http.method": "GET"}, name="GET /") is K.OTHER


def test_kind_keys_may_sit_on_the_resource() -> None:
    assert run({}, resource={"openinference.span.kind": "AGENT"}).kind is K.AGENT


def test_non_string_kind_values_are_ignored() -> None:
    assert kind_of({"openinference.span.kind": 3, "gen_ai.operation.name": ["chat"]}) is K.OTHER
