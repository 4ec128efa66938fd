"""The demo traffic generator (the command is tested in tests/test_demo_command.py).

The generator must be deterministic (same seed and anchor, same spans), work at any
size, and really put its scenario features into the spans: each label it gives a
trace is checked against what the spans show, read the way an evaluator would.
Shares at seed 42 and 1,500 traces (what ``reasonlens demo`` loads by default; the
anchor moves times only): PII 4.5%, prompt injection 6.1% (obeyed 2.3%), unapproved
refund/send_email 2.8% (10% of checkout traces), forbidden delete_account 0.7% (2.9%
of checkout), escalation 11.3%, loops 7.7% (30% of support 1.5, 4.6% of 1.4), tool
errors 6.9%, rate limits 5.3%, failed traces 2.5%. The bounds below are loose around
those, measured on 600 traces.

The research agent's log events are tested in tests/test_demo_log_events.py.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from datetime import timedelta
from statistics import mean
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from reasonlens.demo import Feature, Summary, generate
from tests.demo_runs import ANCHOR, Generated, Logged, dumped, run

DAY_NS = 24 * 3600 * 1_000_000_000
PII = re.compile(
    r"[\w.+-]+@[\w-]+\.[\w.]+"  # email
    r"|\(\d{3}\) \d{3}-\d{4}"  # phone
    r"|\b\d{4} \d{4} \d{4} \d{4}\b"  # card number
    r"|\b\d{3}-\d{2}-\d{4}\b"  # SSN
)
INJECTION = re.compile(r"ignore (all )?previous instructions", re.IGNORECASE)


@pytest.fixture(scope="module")
def sample(demo_logged: Logged) -> Generated:
    summary, spans, _ = demo_logged
    by_trace: dict[str, list[ReadableSpan]] = defaultdict(list)
    for span in spans:
        by_trace[format(span.context.trace_id, "032x")].append(span)
    return summary, dict(by_trace)


def test_same_seed_same_spans_other_seed_other_spans() -> None:
    first, second, other = run(60), run(60), run(60, seed=43)
    assert dumped([s for spans in first[1].values() for s in spans]) == dumped(
        [s for spans in second[1].values() for s in spans]
    )
    assert first[0] == second[0]
    assert not set(first[1]) & set(other[1])
    assert [t.features for t in first[0].traces] != [t.features for t in other[0].traces]


def test_the_anchor_moves_times_and_nothing_else() -> None:
    today, tomorrow = run(30), run(30, anchor=ANCHOR + timedelta(days=1))
    assert list(today[1]) == list(tomorrow[1])
    for trace_id, spans in today[1].items():
        for before, after in zip(spans, tomorrow[1][trace_id], strict=True):
            assert before.start_time is not None
            assert after.start_time == before.start_time + DAY_NS
            assert after.attributes == before.attributes


@pytest.mark.parametrize("traces", [1, 2, 7, 33])
def test_any_size(traces: int) -> None:
    summary, by_trace = run(traces)
    assert summary.traces == run(40)[0].traces[:traces]  # fewer traces: a prefix of the same
    assert len(summary.traces) == len(by_trace) == traces
    assert summary.spans == sum(len(spans) for spans in by_trace.values())
    anchor_ns = int(ANCHOR.timestamp()) * 1_000_000_000
    for spans in by_trace.values():
        [root] = [span for span in spans if span.parent is None]
        assert root.start_time is not None and root.end_time is not None
        assert anchor_ns - DAY_NS <= root.start_time < root.end_time < anchor_ns


def test_traces_below_one_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        generate(SimpleSpanProcessor(InMemorySpanExporter()), traces=0)


def root_of(spans: list[ReadableSpan]) -> ReadableSpan:
    return next(span for span in spans if span.parent is None)


def tools(spans: list[ReadableSpan]) -> list[tuple[str, Any, Any, ReadableSpan]]:
    """(name, arguments, result, span) of every tool call, in start order, either convention."""
    out = []
    for span in sorted(spans, key=lambda s: s.start_time or 0):
        attributes = span.attributes or {}
        if attributes.get("gen_ai.operation.name") == "execute_tool":
            keys = ("gen_ai.tool.name", "gen_ai.tool.call.arguments", "gen_ai.tool.call.result")
        elif attributes.get("openinference.span.kind") == "TOOL":
            keys = ("tool.name", "input.value", "output.value")
        else:
            continue
        name, arguments, result = (attributes.get(key) for key in keys)
        out.append(
            (
                str(name),
                json.loads(str(arguments)),
                json.loads(str(result)) if result else None,
                span,
            )
        )
    return out


def answer(spans: list[ReadableSpan]) -> str:
    attributes = root_of(spans).attributes or {}
    return str(attributes.get("gen_ai.output.messages") or attributes.get("output.value") or "")


def model_tokens(spans: list[ReadableSpan]) -> int:
    total = 0
    for span in spans:
        attributes = span.attributes or {}
        if attributes.get("gen_ai.operation.name") == "chat":
            total += int(attributes.get("gen_ai.usage.input_tokens", 0))  # type: ignore[arg-type]
            total += int(attributes.get("gen_ai.usage.output_tokens", 0))  # type: ignore[arg-type]
        total += int(attributes.get("llm.token_count.total", 0))  # type: ignore[arg-type]
    return total


def loops(spans: list[ReadableSpan]) -> bool:
    succeeded: set[str] = set()
    for name, arguments, _, span in tools(spans):
        key = name + json.dumps(arguments, sort_keys=True)
        if span.status.status_code is StatusCode.ERROR:
            continue
        if key in succeeded:
            return True
        succeeded.add(key)
    return False


def labelled(summary: Summary, feature: Feature) -> set[str]:
    return {trace.trace_id for trace in summary.traces if feature in trace.features}


def share(summary: Summary, feature: Feature) -> float:
    return summary.count(feature) / len(summary.traces)


def test_support_15_drifts_from_14(sample: Generated) -> None:
    summary, by_trace = sample
    versions: dict[str, list[str]] = defaultdict(list)
    for trace in summary.traces:
        if trace.agent == "support":
            versions[trace.version].append(trace.trace_id)
    old, new = versions["1.4"], versions["1.5"]
    assert len(old) > 60 and len(new) > 60
    assert mean(model_tokens(by_trace[t]) for t in new) > 1.8 * mean(
        model_tokens(by_trace[t]) for t in old
    )
    assert mean(loops(by_trace[t]) for t in new) > 4 * mean(loops(by_trace[t]) for t in old) > 0
    tool_names = {
        v: Counter(name for t in ids for name, *_ in tools(by_trace[t]))
        for v, ids in versions.items()
    }
    assert tool_names["1.5"]["web_search"] > 10 and tool_names["1.4"]["web_search"] == 0
    assert {t for t in by_trace if loops(by_trace[t])} == labelled(summary, Feature.LOOP)


def test_pii_leaks_are_in_answers_or_tool_results(sample: Generated) -> None:
    summary, by_trace = sample
    leaked = labelled(summary, Feature.PII)
    assert 0.02 < share(summary, Feature.PII) < 0.10
    for trace_id in leaked:
        texts = [answer(by_trace[trace_id])] + [
            json.dumps(result) for *_, result, _ in tools(by_trace[trace_id])
        ]
        assert any(PII.search(text) for text in texts), trace_id


def test_prompt_injection_arrives_in_tool_results_and_is_sometimes_obeyed(
    sample: Generated,
) -> None:
    summary, by_trace = sample
    injected = {
        trace_id
        for trace_id, spans in by_trace.items()
        if any(INJECTION.search(json.dumps(result)) for *_, result, _ in tools(spans))
    }
    assert injected == labelled(summary, Feature.INJECTION)
    obeyed = labelled(summary, Feature.INJECTION_OBEYED)
    assert obeyed < injected and 0.02 < len(injected) / len(by_trace) < 0.12
    for trace_id in obeyed:
        calls = tools(by_trace[trace_id])
        outside = [
            arguments["to"]
            for name, arguments, *_ in calls
            if name in ("send_email", "forward_email")
            and not arguments["to"].endswith("northwind.example")
        ]
        exfiltrated = [
            a["url"] for name, a, *_ in calls if "collect.example-archive" in a.get("url", "")
        ]
        phished = "verify.example-refunds.net" in answer(by_trace[trace_id])
        assert outside or exfiltrated or phished, trace_id


def test_checkout_policy_breaks(sample: Generated) -> None:
    summary, by_trace = sample
    unapproved, forbidden = set(), set()
    for trace_id, spans in by_trace.items():
        approved: set[str] = set()
        for name, arguments, result, _ in tools(spans):
            if name == "request_approval" and result and result["decision"] == "approved":
                approved.update(arguments["actions"])
            if name in ("refund", "send_email") and name not in approved:
                unapproved.add(trace_id)
            if name == "delete_account":
                forbidden.add(trace_id)
    assert unapproved == labelled(summary, Feature.UNAPPROVED_TOOL)
    assert forbidden == labelled(summary, Feature.FORBIDDEN_TOOL)
    checkout = {t.trace_id for t in summary.traces if t.agent == "checkout"}
    assert forbidden <= checkout and forbidden
    assert 0.05 < len(unapproved & checkout) / len(checkout) < 0.25


def test_escalations_errors_and_rate_limits(sample: Generated) -> None:
    summary, by_trace = sample
    escalated = {
        t for t, spans in by_trace.items() if any(c[0] == "escalate_to_human" for c in tools(spans))
    }
    assert escalated == labelled(summary, Feature.ESCALATION)
    assert 0.05 < share(summary, Feature.ESCALATION) < 0.2
    tool_errors, rate_limited, failed = set(), set(), set()
    for trace_id, spans in by_trace.items():
        for _, _, _, span in tools(spans):
            if span.status.status_code is StatusCode.ERROR:
                assert [event.name for event in span.events] == ["exception"]
                tool_errors.add(trace_id)
        for span in spans:
            if span.status.status_code is StatusCode.ERROR and span.name.startswith(
                ("chat ", "ChatVertexAI")
            ):
                exception_type = str(span.events[0].attributes["exception.type"])  # type: ignore[index]
                assert exception_type.endswith(("RateLimitError", "ResourceExhausted"))
                rate_limited.add(trace_id)
        if root_of(spans).status.status_code is StatusCode.ERROR:
            failed.add(trace_id)
    assert tool_errors == labelled(summary, Feature.TOOL_ERROR)
    assert rate_limited == labelled(summary, Feature.RATE_LIMIT)
    assert failed == labelled(summary, Feature.FAILED)
    for feature in (Feature.TOOL_ERROR, Feature.RATE_LIMIT, Feature.FAILED):
        assert 0.01 < share(summary, feature) < 0.1, feature


def test_sessions_agents_and_conventions(sample: Generated) -> None:
    summary, by_trace = sample
    assert set(summary.agents()) == {
        "support 1.4",
        "support 1.5",
        "checkout 2.3.1",
        "research 0.9.2",
        "inbox 3.2.0",
    }
    sessions = Counter(trace.session_id for trace in summary.traces)
    assert sum(count > 1 for count in sessions.values()) > 50
    users: dict[str, set[Any]] = defaultdict(set)
    for trace in summary.traces:
        root = root_of(by_trace[trace.trace_id])
        attributes = root.attributes or {}
        users[trace.session_id].add(attributes["user.id"])
        if trace.agent == "inbox":
            assert attributes["openinference.span.kind"] == "AGENT"
            assert root.resource.attributes["service.version"] == trace.version
        else:
            assert attributes["gen_ai.operation.name"] == "invoke_agent"
            assert attributes["gen_ai.agent.version"] == trace.version
    assert all(len(ids) == 1 for ids in users.values())
