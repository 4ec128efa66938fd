"""The per-key-set plan (collector/normalize/plan.py) changes nothing but the speed.

``normalize`` takes the plan path for every span whose attributes are a dict of str
keys, and the general scan otherwise. These tests hold the two paths equal, including
for a plan built from another span with the same keys and other values, which is how
the cache shares plans.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.normalize_bench import build_spans
from bench.payloads import Payloads
from collector.decode_proto import decode_protobuf
from collector.normalize.normalizer import _normalize_planned, _normalize_scanned
from collector.normalize.plan import Always, Plan, plan_for
from collector.spans import RawSpan
from store.vocabulary import SpanKind
from tests.test_normalize_hostile import KEYS, MESSAGE_TEXT, VALUES
from tests.test_normalize_support import event, load_flat, load_vercel, make_span

FLAT_FIXTURES = [
    "openinference_client_span_input_output_only.json",
    "openinference_client_span_tool_calls.json",
    "otel_genai_client_span_tool_calls.json",
    "otel_genai_deprecated_client_span_tool_calls.json",
    "otel_genai_tool_execution_span.json",
]


def assert_same(span: RawSpan, plan_from: RawSpan | None = None) -> None:
    planned = _normalize_planned(span, Plan(plan_from or span))
    assert planned == _normalize_scanned(span)


def test_payload_and_bench_spans() -> None:
    spans = decode_protobuf(Payloads(50).body(0)).spans + build_spans(80)
    for span in spans:
        assert plan_for(span) is not None
        assert_same(span)


@pytest.mark.parametrize("name", FLAT_FIXTURES)
def test_fixture_attribute_maps(name: str) -> None:
    for parent in (None, "00000000000000aa"):
        assert_same(make_span(load_flat(name), name="execute_tool x", parent=parent))


def test_vercel_fixture_spans() -> None:
    for span in load_vercel("all-spans.json"):
        assert_same(span)


def test_a_shared_plan_reads_this_spans_values() -> None:
    chat = make_span({"gen_ai.operation.name": "chat", "input.value": '{"a": 1}'}, parent=None)
    tool = make_span({"gen_ai.operation.name": "execute_tool", "input.value": "x"})
    assert_same(tool, plan_from=chat)
    assert_same(chat, plan_from=tool)
    assert _normalize_planned(tool, Plan(chat)).kind is SpanKind.TOOL
    assert _normalize_planned(tool, Plan(chat)).tool_arguments == "x"


def test_a_key_prefix_rule_is_settled_by_the_plan() -> None:
    span = make_span({"gen_ai.evaluation.name": "relevance", "gen_ai.request.model": "m"})
    plan = Plan(span)
    assert any(type(rule) is Always for rule in plan.kind_rules)
    assert _normalize_planned(span, plan).kind is SpanKind.EVALUATOR
    assert_same(span)


class Key(str):
    """A str subclass key: the general path reports it unmapped, whatever its name."""


def test_spans_the_plan_does_not_cover() -> None:
    assert plan_for(make_span({1: "x", "gen_ai.request.model": "m"})) is None  # type: ignore[dict-item]
    family = {"gen_ai.prompt.0.content": "hi", "gen_ai.request.model": "m"}
    assert plan_for(make_span(family)) is not None
    subclassed = make_span({Key(key): value for key, value in family.items()})
    assert plan_for(subclassed) is None
    assert _normalize_scanned(subclassed).unmapped == ["gen_ai.prompt.0.content"]


def test_plans_are_cached_by_key_set() -> None:
    first = make_span({"gen_ai.request.model": "a", "x": 1})
    second = make_span({"gen_ai.request.model": "b", "x": 2})
    assert plan_for(first) is plan_for(second)
    assert plan_for(make_span({"x": 1, "gen_ai.request.model": "a"})) is not plan_for(first)


@settings(
    max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(
    keys=st.lists(KEYS, unique=True, max_size=10),
    data=st.data(),
    resource=st.dictionaries(KEYS, VALUES, max_size=3),
    scope=st.dictionaries(KEYS, VALUES, max_size=2),
    names=st.lists(
        st.sampled_from(["", "invoke_agent a", "execute_tool t", "chat m", "agent run"]),
        min_size=2,
        max_size=2,
    ),
    status_codes=st.lists(st.integers(min_value=0, max_value=3), min_size=2, max_size=2),
    event_names=st.lists(
        st.sampled_from(
            ["exception", "gen_ai.choice", "gen_ai.user.message", "gen_ai.evaluation.result", "x"]
        ),
        max_size=3,
    ),
)
def test_two_spans_with_one_key_set(
    keys: list[str],
    data: Any,
    resource: dict[str, Any],
    scope: dict[str, Any],
    names: list[str],
    status_codes: list[int],
    event_names: list[str],
) -> None:
    values = st.lists(VALUES | MESSAGE_TEXT, min_size=len(keys), max_size=len(keys))
    first, second = (
        make_span(
            dict(zip(keys, data.draw(values), strict=True)),
            name=name,
            parent=None if index else "00000000000000aa",
            resource=resource,
            scope=scope,
            events=[event(event_name) for event_name in event_names[index:]],
            status_code=status_code,
        )
        for index, (name, status_code) in enumerate(zip(names, status_codes, strict=True))
    )
    assert_same(first)
    assert_same(second, plan_from=first)
