"""The demo's research agent writes its model calls as opentelemetry-instrumentation-
openai-v2 does in its default mode: spans without content, the content as OTLP log
events (checked here against openai-v2's own event builders; end to end through the
demo command, /v1/logs and the API in tests/test_demo_command.py).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

from opentelemetry.instrumentation.openai_v2.utils import choice_to_event, message_to_event
from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.trace import StatusCode

from reasonlens.demo.agents import research
from reasonlens.demo.writers.openai_v2 import SCOPE
from tests.demo_runs import Logged, dumped, run, run_logged

CONTENT_EVENTS = frozenset({
    "gen_ai.system.message",
    "gen_ai.user.message",
    "gen_ai.assistant.message",
    "gen_ai.tool.message",
    "gen_ai.choice",
})  # fmt: skip


def dumped_logs(records: Sequence[ReadableLogRecord]) -> list[tuple[Any, ...]]:
    """Everything a record carries, times to the nanosecond (to_json rounds them)."""
    return [
        (
            record.to_json(indent=None),
            record.log_record.timestamp,
            record.log_record.observed_timestamp,
            record.instrumentation_scope,
        )
        for record in records
    ]


def test_log_events_are_deterministic_and_change_no_span() -> None:
    first, again, other = run_logged(60), run_logged(60), run_logged(60, seed=43)
    assert first[0] == again[0] and first[0].logs == len(first[2]) > 40
    assert dumped_logs(first[2]) == dumped_logs(again[2])
    assert dumped_logs(first[2]) != dumped_logs(other[2])
    # Without a log record processor the events are not produced, and the spans are
    # the same: the events draw nothing from the generator's random streams.
    without = run(60)
    assert without[0].logs == 0 and without[0].traces == first[0].traces
    assert dumped(first[1]) == dumped([span for spans in without[1].values() for span in spans])


def openai_v2_event(record: ReadableLogRecord) -> tuple[Any, ...]:
    """The event openai-v2's own builders make from the message or choice ``record`` shows.

    A body the demo spells differently from openai-v2 (a role in a message body, an
    assistant message's text beside its tool calls, ...) does not survive the round trip.
    """
    name, body = record.log_record.event_name or "", record.log_record.body
    assert isinstance(body, dict), record.to_json()
    if name == "gen_ai.choice":
        message = SimpleNamespace(**{"content": None, "tool_calls": None, **body["message"]})
        choice = SimpleNamespace(
            index=body["index"], finish_reason=body["finish_reason"], message=message
        )
        event = choice_to_event(choice, capture_content=True)
    else:
        sent = {"role": name.split(".")[1], **body}
        if "id" in sent:
            sent["tool_call_id"] = sent.pop("id")
        event = message_to_event(sent, capture_content=True)
    return event.event_name, event.body, dict(event.attributes or {})


def test_research_model_calls_send_their_content_as_openai_v2_log_events(
    demo_logged: Logged,
) -> None:
    summary, spans, records = demo_logged
    assert summary.logs == len(records)
    research_ids = {t.trace_id for t in summary.traces if t.agent == "research"}
    chats = {
        span.context.span_id: span
        for span in spans
        if format(span.context.trace_id, "032x") in research_ids
        and (span.attributes or {}).get("gen_ai.operation.name") == "chat"
    }
    by_span: dict[int, list[ReadableLogRecord]] = defaultdict(list)
    for record in records:
        by_span[record.log_record.span_id or 0].append(record)
    # Every research model call, and nothing else, sends log events.
    assert set(by_span) == set(chats) and len(chats) > 150
    seen: Counter[str] = Counter()
    for span_id, span in chats.items():
        attributes = span.attributes or {}
        assert span.instrumentation_scope is not None
        assert span.instrumentation_scope.name == SCOPE.name
        assert attributes["gen_ai.system"] == "openai" and "gen_ai.request.model" in attributes
        assert not [key for key in attributes if key.startswith(("gen_ai.input", "gen_ai.output"))]
        assert "gen_ai.system_instructions" not in attributes
        events = by_span[span_id]
        names = [record.log_record.event_name or "" for record in events]
        seen.update(names)
        times = [record.log_record.timestamp or 0 for record in events]
        assert span.start_time is not None and span.end_time is not None
        assert (
            span.start_time < times[0] and times == sorted(set(times)) and times[-1] < span.end_time
        )
        agent = next(
            a
            for a in (research.AGENT, research.SUMMARIZER)
            if a.model.request == attributes["gen_ai.request.model"]
        )
        assert names[0] == "gen_ai.system.message"
        assert events[0].log_record.body == {"content": agent.instructions}
        rate_limited = span.status.status_code is StatusCode.ERROR
        assert (names[-1] == "gen_ai.choice") is not rate_limited
        assert names.count("gen_ai.choice") == (0 if rate_limited else 1)
        if not rate_limited:
            choice = events[-1].log_record.body
            assert isinstance(choice, dict)
            assert (choice["finish_reason"],) == attributes["gen_ai.response.finish_reasons"]
        called: set[str] = set()
        for record in events:
            log = record.log_record
            assert log.observed_timestamp == log.timestamp
            assert log.trace_id == span.context.trace_id
            assert record.instrumentation_scope is not None
            assert record.instrumentation_scope.name == SCOPE.name
            assert record.resource.attributes["service.name"] == "research-agent"
            assert openai_v2_event(record) == (
                log.event_name,
                log.body,
                {"gen_ai.system": "openai"},
            )
            assert dict(log.attributes or {}) == {"gen_ai.system": "openai"}
            body = log.body
            assert isinstance(body, dict)
            if log.event_name == "gen_ai.assistant.message" and "tool_calls" in body:
                called.update(call["id"] for call in body["tool_calls"])
            if log.event_name == "gen_ai.tool.message":
                assert body["id"] in called  # answers a call sent earlier in the same prompt
    assert set(seen) == CONTENT_EVENTS
