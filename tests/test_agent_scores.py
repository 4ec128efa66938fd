"""Evaluation results the agent sends itself become scores with source "agent".

Sent through the OpenTelemetry SDK's real exporters (HTTP protobuf, HTTP JSON, gRPC) to
a real server; read back from the ``scores`` table.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.json.http._log_exporter import OTLPLogExporter as JsonLogs
from opentelemetry.exporter.otlp.json.http.trace_exporter import OTLPSpanExporter as JsonSpans
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as GrpcLogs
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpans
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as HttpLogs
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpans
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import (
    InMemoryLogRecordExporter,
    LogRecordExporter,
    LogRecordExportResult,
    SimpleLogRecordProcessor,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.semconv._incubating.attributes.gen_ai_attributes import (
    GEN_AI_EVALUATION_EXPLANATION as EXPLANATION,
)
from opentelemetry.semconv._incubating.attributes.gen_ai_attributes import (
    GEN_AI_EVALUATION_NAME as NAME,
)
from opentelemetry.semconv._incubating.attributes.gen_ai_attributes import (
    GEN_AI_EVALUATION_SCORE_LABEL as LABEL,
)
from opentelemetry.semconv._incubating.attributes.gen_ai_attributes import (
    GEN_AI_EVALUATION_SCORE_VALUE as VALUE,
)
from opentelemetry.trace import Span as ApiSpan
from opentelemetry.trace import Tracer, set_span_in_context

from store.models import Project, Score, Span
from tests.databases import BACKEND
from tests.server import Server

EVENT = "gen_ai.evaluation.result"
T0 = 1_750_000_000_000_000_000


@dataclass
class Sdk:
    tracer_provider: TracerProvider
    logger_provider: LoggerProvider

    @property
    def tracer(self) -> Tracer:
        return self.tracer_provider.get_tracer("tests.agent_scores")

    def emit(self, span: ApiSpan | None, attributes: dict[str, object], time: int) -> None:
        """A ``gen_ai.evaluation.result`` log record parented to ``span`` (none: no trace)."""
        context = set_span_in_context(span) if span is not None else Context()
        self.logger_provider.get_logger("tests.agent_scores").emit(
            timestamp=time, context=context, event_name=EVENT, attributes=attributes
        )

    def shutdown(self) -> None:
        self.tracer_provider.shutdown()
        self.logger_provider.shutdown()


def sdk(spans: SpanExporter, logs: LogRecordExporter) -> Sdk:
    resource = Resource({"service.name": "scored-agent"})
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(logs))
    return Sdk(tracer_provider, logger_provider)


def http_exporters(server: Server, project: str) -> tuple[HttpSpans, HttpLogs]:
    headers = {"x-reasonlens-project": project}
    return (
        HttpSpans(f"{server.url}/v1/traces", headers=headers),
        HttpLogs(f"{server.url}/v1/logs", headers=headers),
    )


@pytest.fixture
def http(server: Server, project: str) -> Iterator[Sdk]:
    agent = sdk(*http_exporters(server, project))
    yield agent
    agent.shutdown()


def scores(server: Server, project: str) -> list[Score]:
    """The project's agent scores, by evaluator."""
    with server.engine.connect() as connection:
        rows = connection.execute(
            sa.select(Score)
            .join(Project, Project.id == Score.project_id)
            .where(Project.name == project, Score.source == "agent")
            .order_by(Score.evaluator, Score.span_id, Score.id)
        )
        return [Score(**row._mapping) for row in rows]


def span_count(server: Server, project: str, trace_id: str) -> int:
    with server.engine.connect() as connection:
        return int(
            connection.execute(
                sa.select(sa.func.count())
                .select_from(Span)
                .join(Project, Project.id == Span.project_id)
                .where(Project.name == project, Span.trace_id == trace_id)
            ).scalar_one()
        )


def ids(span: ApiSpan) -> tuple[str, str]:
    context = span.get_span_context()
    return format(context.trace_id, "032x"), format(context.span_id, "016x")


def at(time_ns: int) -> datetime:
    return datetime.fromtimestamp(time_ns // 10**9, UTC).replace(
        microsecond=time_ns % 10**9 // 1000
    )


def test_span_events_become_scores_of_their_span(server: Server, project: str, http: Sdk) -> None:
    with http.tracer.start_as_current_span("chat gpt-4o", start_time=T0) as span:
        span.set_attribute("gen_ai.operation.name", "chat")
        result = {NAME: "relevance", VALUE: 0.82, LABEL: "relevant", EXPLANATION: "on topic"}
        span.add_event(EVENT, {**result, "gen_ai.response.id": "resp-1"}, timestamp=T0 + 5)
        span.add_event(EVENT, {NAME: "groundedness", LABEL: " Passed "}, timestamp=T0 + 6)
        span.add_event(EVENT, {NAME: "toxicity", "error.type": "timeout"}, timestamp=T0 + 7)
        span.add_event("retry", {"attempt": 2})  # another event: no score
        trace_id, span_id = ids(span)

    grounded, relevance, toxicity = scores(server, project)
    for score in (grounded, relevance, toxicity):
        assert (score.trace_id, score.span_id, score.run_id) == (trace_id, span_id, None)
        assert score.metric == score.evaluator
        assert len(score.dedupe_key or "") == 32
    assert (relevance.evaluator, relevance.value, relevance.label) == (
        "relevance",
        0.82,
        "relevant",
    )
    assert (relevance.passed, relevance.explanation) == (None, "on topic")
    assert relevance.details == {
        "form": "span_event",
        "attributes": {"gen_ai.response.id": "resp-1"},
    }
    assert relevance.created_at == at(T0 + 5)
    assert (grounded.value, grounded.label, grounded.passed) == (None, " Passed ", True)
    assert (toxicity.value, toxicity.label, toxicity.passed) == (None, None, None)
    assert toxicity.details == {"form": "span_event", "attributes": {"error.type": "timeout"}}


def test_log_records_score_their_span_whichever_arrives_first(
    server: Server, project: str, http: Sdk
) -> None:
    with http.tracer.start_as_current_span("chat gpt-4o") as span:
        trace_id, span_id = ids(span)
        # Exported at once, while the span is still open: the score arrives first.
        http.emit(span, {NAME: "correctness", VALUE: 1, LABEL: "correct"}, T0 + 1)
        assert [s.evaluator for s in scores(server, project)] == ["correctness"]
        assert span_count(server, project, trace_id) == 0
    assert span_count(server, project, trace_id) == 1
    # A judge that runs later scores the span after it was stored.
    http.emit(span, {NAME: "helpfulness", VALUE: 0.25, LABEL: "fail"}, T0 + 2)
    # A record with no trace has nothing to score: stored as a log, no score.
    http.emit(None, {NAME: "orphan", VALUE: 0.5}, T0 + 3)

    correctness, helpfulness = scores(server, project)
    assert (correctness.trace_id, correctness.span_id) == (trace_id, span_id)
    assert (correctness.value, correctness.passed) == (1.0, True)
    assert (helpfulness.trace_id, helpfulness.span_id) == (trace_id, span_id)
    assert (helpfulness.value, helpfulness.label, helpfulness.passed) == (0.25, "fail", False)
    assert helpfulness.details == {"form": "log_record"}
    assert helpfulness.created_at == at(T0 + 2)


def test_openinference_feedback_attributes_over_grpc(server: Server, project: str) -> None:
    headers = (("x-reasonlens-project", project),)
    agent = sdk(
        GrpcSpans(server.grpc_target, insecure=True, headers=headers),
        GrpcLogs(server.grpc_target, insecure=True, headers=headers),
    )
    with agent.tracer.start_as_current_span("llm") as span:
        span.set_attributes(
            {
                "openinference.span.kind": "LLM",
                "evaluations.0.evaluation.name": "hallucination",
                "evaluations.0.evaluation.score": 0.1,
                "evaluations.0.evaluation.label": "factual",
                "evaluations.0.evaluation.explanation": "matches the sources",
                "evaluations.0.evaluation.annotator_kind": "LLM",
                "evaluations.1.evaluation.name": "qa_correctness",
                "evaluations.1.evaluation.label": "incorrect",
                "annotations.0.annotation.name": "thumbs",
                "annotations.0.annotation.score": 1,
                "annotations.0.annotation.annotator_kind": "HUMAN",
                "annotations.0.annotation.identifier": "user-42",
                "trace.evaluations.0.evaluation.name": "task_success",
                "trace.evaluations.0.evaluation.label": "pass",
            }
        )
        agent.emit(span, {NAME: "latency_ok", LABEL: "pass"}, T0)  # a gRPC log record
        trace_id, span_id = ids(span)
    agent.shutdown()

    hallucination, latency, correctness, success, thumbs = scores(server, project)
    assert (latency.span_id, latency.passed, latency.details) == (
        span_id,
        True,
        {"form": "log_record"},
    )
    assert (hallucination.span_id, hallucination.value, hallucination.label) == (
        span_id,
        0.1,
        "factual",
    )
    assert hallucination.explanation == "matches the sources"
    assert hallucination.details == {
        "form": "openinference",
        "attributes": {"annotator_kind": "LLM"},
    }
    assert (correctness.span_id, correctness.value, correctness.passed) == (span_id, None, False)
    assert (thumbs.span_id, thumbs.value, thumbs.passed) == (span_id, 1.0, None)
    assert thumbs.details == {
        "form": "openinference",
        "attributes": {"annotator_kind": "HUMAN", "identifier": "user-42"},
    }
    # The trace-scoped form scores the trace, not the span carrying it.
    assert (success.trace_id, success.span_id, success.passed) == (trace_id, None, True)


def test_evaluator_spans_carry_their_own_result(server: Server, project: str) -> None:
    headers = {"x-reasonlens-project": project}
    agent = sdk(
        JsonSpans(f"{server.url}/v1/traces", headers=headers),
        JsonLogs(f"{server.url}/v1/logs", headers=headers),
    )
    with agent.tracer.start_as_current_span("answer") as answer:
        answer.set_attribute("gen_ai.operation.name", "invoke_agent")
        with agent.tracer.start_as_current_span("judge faithfulness") as judge:
            judge.set_attributes(
                {
                    "openinference.span.kind": "EVALUATOR",
                    NAME: "faithfulness",
                    VALUE: 0.9,
                    LABEL: "faithful",
                    EXPLANATION: "every claim is cited",
                    "gen_ai.evaluation.judge.model": "gpt-4o-mini",
                }
            )
            trace_id, judge_id = ids(judge)
        with agent.tracer.start_as_current_span("length check") as check:
            # No declared kind: gen_ai.evaluation.* alone makes it an evaluator span, and
            # a result without a name is named after the span.
            check.set_attributes({VALUE: 0.0, LABEL: "FAIL"})
            _, check_id = ids(check)
        agent.emit(answer, {NAME: "tone", VALUE: 0.75}, T0)  # an HTTP JSON log record
        _, answer_id = ids(answer)
    agent.shutdown()

    faithfulness, length, tone = scores(server, project)
    assert (tone.span_id, tone.value, tone.details) == (answer_id, 0.75, {"form": "log_record"})
    assert (faithfulness.trace_id, faithfulness.span_id) == (trace_id, judge_id)
    assert (faithfulness.value, faithfulness.label, faithfulness.passed) == (0.9, "faithful", None)
    assert faithfulness.explanation == "every claim is cited"
    assert faithfulness.details == {
        "form": "evaluator_span",
        "attributes": {"gen_ai.evaluation.judge.model": "gpt-4o-mini"},
    }
    assert (length.evaluator, length.span_id, length.value, length.passed) == (
        "length check",
        check_id,
        0.0,
        False,
    )
    with server.engine.connect() as connection:
        kinds = connection.execute(
            sa.select(Span.kind)
            .join(Project, Project.id == Span.project_id)
            .where(Project.name == project, Span.span_id.in_([judge_id, check_id]))
        ).scalars()
        assert set(kinds) == {"evaluator"}


def test_a_retransmitted_export_stores_no_score_twice(server: Server, project: str) -> None:
    spans, logs = InMemorySpanExporter(), InMemoryLogRecordExporter()
    agent = sdk(spans, logs)
    with agent.tracer.start_as_current_span("chat") as span:
        span.add_event(EVENT, {NAME: "relevance", VALUE: 0.7}, timestamp=T0 + 1)
        span.set_attributes(
            {"evaluations.0.evaluation.name": "qa", "evaluations.0.evaluation.score": 1}
        )
        # The same result as a log record too, at the same time: one score.
        agent.emit(span, {NAME: "relevance", VALUE: 0.7}, T0 + 1)
        agent.emit(span, {NAME: "tone", LABEL: "polite"}, T0 + 2)
    agent.shutdown()

    span_exporter, log_exporter = http_exporters(server, project)
    for _ in range(3):  # an exporter that never saw the first acknowledgements
        assert span_exporter.export(spans.get_finished_spans()) is SpanExportResult.SUCCESS
        assert log_exporter.export(logs.get_finished_logs()) is LogRecordExportResult.SUCCESS
        assert [s.evaluator for s in scores(server, project)] == ["qa", "relevance", "tone"]
    (relevance,) = [s for s in scores(server, project) if s.evaluator == "relevance"]
    assert relevance.details == {"form": "span_event"}  # the span came first


def test_malformed_evaluations_keep_what_is_valid(server: Server, project: str, http: Sdk) -> None:
    with http.tracer.start_as_current_span("chat") as span:
        span.add_event(EVENT, {NAME: "tone", VALUE: "very high", LABEL: "polite"})
        span.add_event(EVENT, {NAME: "drift", VALUE: math.nan, LABEL: "true"})
        span.add_event(EVENT, {NAME: "bias", VALUE: True, LABEL: 3})
        span.add_event(EVENT, {VALUE: 0.5, LABEL: "pass"})  # no name: no score
        span.add_event(EVENT, {NAME: "", VALUE: 0.5})
        span.add_event(EVENT, {NAME: "nul", VALUE: 2, EXPLANATION: "a\x00b"})
        span.set_attributes(
            {
                "evaluations.0.evaluation.name": "qa",
                "evaluations.0.evaluation.score": "n/a",
                "evaluations.0.evaluation.label": "partly",
            }
        )
        trace_id, _ = ids(span)
    http.emit(span, {NAME: "judge", VALUE: [1.0, 2.0], LABEL: "split"}, T0)
    http.emit(span, {NAME: ["not", "a", "name"], VALUE: 1.0}, T0)

    assert span_count(server, project, trace_id) == 1
    bias, drift, judge, nul, qa, tone = scores(server, project)
    assert (tone.value, tone.label) == (None, "polite")
    assert tone.details == {"form": "span_event", "score_raw": "very high"}
    assert (drift.value, drift.label, drift.passed) == (None, "true", True)
    # the decoders keep a non-finite double as its name (JSON has no NaN)
    assert drift.details == {"form": "span_event", "score_raw": "NaN"}
    assert (bias.value, bias.label) == (None, "3")
    assert bias.details == {"form": "span_event", "score_raw": True}
    assert (judge.value, judge.label) == (None, "split")
    assert judge.details == {"form": "log_record", "score_raw": "<list>"}
    assert (qa.value, qa.label) == (None, "partly")
    # PostgreSQL refuses NUL; the request is written again with it replaced.
    expected = "a\x00b" if BACKEND == "sqlite" else "a\ufffdb"
    assert (nul.value, nul.explanation) == (2.0, expected)


def test_spans_without_evaluations_give_no_scores(server: Server, project: str) -> None:
    agent = sdk(*http_exporters(server, project))
    with agent.tracer.start_as_current_span("chat") as span:
        span.set_attributes({"gen_ai.operation.name": "chat", "evaluation_notes": "none"})
        span.add_event("gen_ai.choice", {"index": 0})
    agent.shutdown()
    assert scores(server, project) == []
