"""Identity fields (SEMCONV 6.2): provider, model, tool, agent, session, user, trace,
environment, prompt; priorities, fallbacks and the span/scope/resource lookup order."""

from __future__ import annotations

import pytest

from store.vocabulary import SpanKind
from tests.test_normalize_support import run


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("openai", "openai"),
        ("OpenAI", "openai"),
        ("Anthropic", "anthropic"),
        ("az.ai.openai", "azure.ai.openai"),
        ("Azure", "azure.ai.openai"),
        ("az.ai.inference", "azure.ai.inference"),
        ("vertex_ai", "gcp.vertex_ai"),
        ("VertexAI", "gcp.vertex_ai"),
        ("gemini", "gcp.gemini"),
        ("google", "gcp.gen_ai"),
        ("MistralAI", "mistral_ai"),
        ("xai", "x_ai"),
        ("aws", "aws.bedrock"),
        ("bedrock", "aws.bedrock"),
        ("watsonx", "ibm.watsonx.ai"),
        ("ibm.watson.ai", "ibm.watsonx.ai"),
        ("gcp.vertex_ai", "gcp.vertex_ai"),
        ("openai.responses", "openai"),  # Vercel writes its provider id into gen_ai.system
        ("Some.Custom", "some.custom"),  # unknown values are kept, lowercased
    ],
)
def test_provider_values_are_normalized(value: str, expected: str) -> None:
    assert run({"gen_ai.system": value}).provider == expected


def test_provider_priority_new_name_first() -> None:
    # Pydantic AI sends both names (SEMCONV 6.3).
    result = run({"gen_ai.system": "az.ai.openai", "gen_ai.provider.name": "openai"})
    assert result.provider == "openai"


def test_provider_from_openinference_and_vercel() -> None:
    assert run({"llm.provider": "azure", "llm.system": "openai"}).provider == "azure.ai.openai"
    assert run({"llm.system": "mistralai"}).provider == "mistral_ai"
    assert run({"ai.model.provider": "anthropic.messages"}).provider == "anthropic"
    assert run({"ai.model.provider": "google.vertex.chat"}).provider == "gcp.gen_ai"


def test_provider_from_langfuse_model_parameters() -> None:
    params = '{"system": "Anthropic", "temperature": 0}'
    assert run({"langfuse.observation.model.parameters": params}).provider == "anthropic"


def test_model_prefers_the_served_model() -> None:
    result = run({"gen_ai.request.model": "gpt-4o", "gen_ai.response.model": "gpt-4o-2024-08-06"})
    assert result.model == "gpt-4o-2024-08-06"
    assert result.request_model == "gpt-4o"


def test_model_from_invocation_parameters_as_a_last_resort() -> None:
    result = run({"llm.invocation_parameters": '{"model": "claude-3-5-sonnet"}'})
    assert result.model == "claude-3-5-sonnet"
    assert result.request_model == "claude-3-5-sonnet"


def test_embedding_model_name() -> None:
    result = run({"embedding.model_name": "text-embedding-3-small"})
    assert result.model == "text-embedding-3-small"
    assert result.kind is SpanKind.EMBEDDING


def test_agent_name_falls_back_on_the_span_name() -> None:
    assert run({}, name="invoke_agent support").agent_name == "support"
    assert run({}, name="create_agent planner").agent_name == "planner"
    assert run({"gen_ai.agent.name": "named"}, name="invoke_agent other").agent_name == "named"
    assert run({"agent_name": "v2"}, name="agent run").agent_name == "v2"


def test_tool_name_falls_back_on_the_span_name() -> None:
    result = run({}, name="execute_tool get_weather")
    assert (result.kind, result.tool_name) == (SpanKind.TOOL, "get_weather")


def test_traceloop_entity_name_depends_on_the_kind() -> None:
    tool = run({"traceloop.span.kind": "tool", "traceloop.entity.name": "search"})
    agent = run({"traceloop.span.kind": "agent", "traceloop.entity.name": "planner"})
    workflow = run({"traceloop.span.kind": "workflow", "traceloop.entity.name": "plan_trip"})
    assert (tool.tool_name, tool.agent_name) == ("search", None)
    assert (agent.agent_name, agent.tool_name) == ("planner", None)
    assert (workflow.agent_name, workflow.tool_name) == (None, None)


def test_traceloop_tool_input_is_unwrapped() -> None:
    result = run(
        {
            "traceloop.span.kind": "tool",
            "traceloop.entity.input": '{"args": [], "kwargs": {"city": "Paris"}}',
            "traceloop.entity.output": '"rainy"',
        }
    )
    assert result.tool_arguments == '{"city":"Paris"}'
    assert result.tool_result == '"rainy"'


def test_openinference_tool_io_and_not_its_schema() -> None:
    result = run(
        {
            "openinference.span.kind": "TOOL",
            "tool.name": "search",
            "tool.parameters": '{"type": "object"}',
            "input.value": '{"q": "otel"}',
            "output.value": "3 results",
        }
    )
    assert (result.tool_arguments, result.tool_result) == ('{"q": "otel"}', "3 results")
    assert result.unmapped == ["tool.parameters"]


def test_structured_tool_arguments_become_json_text() -> None:
    result = run({"gen_ai.tool.call.arguments": {"city": "Paris", "days": [1, 2]}})
    assert result.tool_arguments == '{"city":"Paris","days":[1,2]}'


def test_agent_version_falls_back_on_the_service_version() -> None:
    resource = {"service.version": "2.1.0"}
    assert run({}, resource=resource).agent_version == "2.1.0"
    assert run({"gen_ai.agent.version": "7"}, resource=resource).agent_version == "7"


def test_environment_span_then_resource() -> None:
    assert run({}, resource={"deployment.environment.name": "prod"}).environment == "prod"
    assert run({}, resource={"deployment.environment": "old"}).environment == "old"
    result = run({"langfuse.environment": "staging"}, resource={"deployment.environment": "x"})
    assert result.environment == "staging"


def test_span_attributes_win_over_scope_and_resource() -> None:
    result = run(
        {"session.id": "span"},
        scope={"session.id": "scope", "user.id": "scope-user"},
        resource={"session.id": "resource", "user.id": "resource-user", "enduser.id": "e"},
    )
    assert (result.session_id, result.user_id) == ("span", "scope-user")


def test_resource_attributes_are_never_reported_unmapped() -> None:
    result = run({"custom.key": 1}, resource={"k8s.pod.name": "p", "session.id": "s"})
    assert result.unmapped == ["custom.key"]
    assert result.session_id == "s"


@pytest.mark.parametrize(
    ("attributes", "expected"),
    [
        ({"gen_ai.conversation.id": "c1", "session.id": "s1"}, "c1"),
        ({"langfuse.session.id": "l1"}, "l1"),
        ({"traceloop.association.properties.session_id": "t1"}, "t1"),
        ({"traceloop.association.properties.thread_id": "t2"}, "t2"),
        ({"ai.telemetry.metadata.sessionId": "v1"}, "v1"),
        ({"langfuse.trace.metadata.langfuse_session_id": "m1"}, "m1"),
        ({"metadata": '{"thread_id": "lg-1", "langgraph_step": 2}'}, "lg-1"),
        ({"gen_ai.conversation.id": 1234}, "1234"),
    ],
)
def test_session_id_sources(attributes: dict[str, object], expected: str) -> None:
    assert run(attributes).session_id == expected


@pytest.mark.parametrize(
    ("attributes", "expected"),
    [
        ({"user.id": "u1", "gen_ai.user": "weak"}, "u1"),
        ({"langfuse.user.id": "u2"}, "u2"),
        ({"enduser.id": "u3"}, "u3"),
        ({"traceloop.association.properties.user_id": "u4"}, "u4"),
        ({"ai.telemetry.metadata.userId": "u5"}, "u5"),
        ({"metadata": '{"user_id": "u6"}'}, "u6"),
        ({"llm.user": "u7"}, "u7"),
    ],
)
def test_user_id_sources(attributes: dict[str, object], expected: str) -> None:
    assert run(attributes).user_id == expected


def test_trace_name() -> None:
    assert run({"langfuse.trace.name": "checkout"}).trace_name == "checkout"
    assert run({"traceloop.workflow.name": "plan_trip"}).trace_name == "plan_trip"
    assert run({}, name="root work", parent=None).trace_name == "root work"
    assert run({}, name="child work").trace_name is None


def test_prompt_template_name_is_not_the_deprecated_prompt() -> None:
    result = run({"gen_ai.prompt.name": "support-v2", "langfuse.observation.prompt.version": 3})
    assert (result.prompt_name, result.prompt_version) == ("support-v2", "3")
    assert result.input_messages is None
    assert result.unmapped == []


def test_finish_reasons_sources() -> None:
    assert run({"gen_ai.response.finish_reasons": ["stop", "length"]}).finish_reasons == [
        "stop",
        "length",
    ]
    assert run({"gen_ai.response.finish_reasons": '["tool_calls"]'}).finish_reasons == [
        "tool_calls"
    ]
    assert run({"ai.response.finishReason": "stop"}).finish_reasons == ["stop"]
    assert run({"llm.finish_reason": "length"}).finish_reasons == ["length"]
