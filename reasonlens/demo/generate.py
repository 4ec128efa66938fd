"""Generate the demo traffic: N traces over the day before an anchor, deterministic per seed.

Generation only builds spans and log records: the caller passes the span processor
and (optionally) the log record processor they go to (the demo's OTLP exporters, or
in-memory exporters in tests), and owns flushing them. Each agent service gets its own
TracerProvider and LoggerProvider (its own resource, as separate processes would
have), all sharing one seeded id generator.

Log records carry what an instrumentation sends as log events rather than on the
span: the research agent's prompts and completions (openai-v2's default mode,
``writers/openai_v2.py``). Without a log record processor they are not built at all,
so those model spans carry no content anywhere; the spans themselves are the same
either way.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime

from opentelemetry._logs import Logger
from opentelemetry.sdk._logs import LoggerProvider, LogRecordLimits, LogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanLimits, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_ON
from opentelemetry.trace import Tracer

from reasonlens.demo.features import features
from reasonlens.demo.ids import SeededIdGenerator
from reasonlens.demo.mix import CACHE_TTL_NS, Mix
from reasonlens.demo.script import Agent, Feature
from reasonlens.demo.writers.flow import Convention, Scope, Turn, Writer
from reasonlens.demo.writers.genai import GenAI
from reasonlens.demo.writers.openai_v2 import OpenAIV2
from reasonlens.demo.writers.openinference import OpenInference

DEFAULT_TRACES = 1500
DEFAULT_SEED = 42
# Explicit limits, so OTEL_* variables in the environment cannot change the output;
# long OpenInference histories flatten into a few hundred attributes.
LIMITS = SpanLimits(
    max_attributes=1024,
    max_span_attributes=1024,
    max_events=128,
    max_links=128,
    max_event_attributes=128,
    max_link_attributes=128,
    max_attribute_length=SpanLimits.UNSET,
    max_span_attribute_length=SpanLimits.UNSET,
)
LOG_LIMITS = LogRecordLimits(
    max_attributes=128,
    max_attribute_length=LogRecordLimits.UNSET,
    max_log_record_attributes=128,
    max_log_record_attribute_length=LogRecordLimits.UNSET,
)


@dataclass(frozen=True, slots=True)
class TraceFacts:
    """What the generator knows about one trace: ground truth for evals and tests."""

    trace_id: str
    agent: str
    version: str
    session_id: str
    features: frozenset[Feature]


@dataclass(frozen=True, slots=True)
class Summary:
    traces: tuple[TraceFacts, ...]
    spans: int
    logs: int = 0  # log records emitted (none without a log record processor)

    def count(self, feature: Feature) -> int:
        return sum(feature in trace.features for trace in self.traces)

    def agents(self) -> Counter[str]:
        """Traces per agent and version, e.g. ``support 1.5``."""
        return Counter(f"{trace.agent} {trace.version}" for trace in self.traces)


class _Process:
    """One agent process's SDK setup; tracers and loggers are cached by scope."""

    def __init__(
        self, tracer_provider: TracerProvider, logger_provider: LoggerProvider | None
    ) -> None:
        self._tracer_provider = tracer_provider
        self._logger_provider = logger_provider
        self._tracers: dict[Scope, Tracer] = {}
        self._loggers: dict[Scope, Logger] = {}

    def tracer(self, scope: Scope) -> Tracer:
        tracer = self._tracers.get(scope)
        if tracer is None:
            tracer = self._tracer_provider.get_tracer(scope.name, scope.version, scope.schema_url)
            self._tracers[scope] = tracer
        return tracer

    def logger(self, scope: Scope) -> Logger | None:
        if self._logger_provider is None:
            return None
        logger = self._loggers.get(scope)
        if logger is None:
            logger = self._logger_provider.get_logger(scope.name, scope.version, scope.schema_url)
            self._loggers[scope] = logger
        return logger


class _Providers:
    def __init__(
        self,
        processor: SpanProcessor,
        log_processor: LogRecordProcessor | None,
        ids: SeededIdGenerator,
    ) -> None:
        self._processor = processor
        self._log_processor = log_processor
        self._ids = ids
        self._processes: dict[tuple[str, str, str], _Process] = {}

    def process(self, agent: Agent, environment: str) -> _Process:
        key = (agent.service, agent.version, environment)
        process = self._processes.get(key)
        if process is None:
            resource = Resource({
                "service.name": agent.service,
                "service.version": agent.version,
                "service.namespace": "northwind",
                "deployment.environment.name": environment,
                "telemetry.sdk.language": "python",
                "telemetry.sdk.name": "opentelemetry",
            })  # fmt: skip
            provider = TracerProvider(
                sampler=ALWAYS_ON,
                resource=resource,
                shutdown_on_exit=False,  # the caller owns the processor and its shutdown
                id_generator=self._ids,
                span_limits=LIMITS,
            )
            provider.add_span_processor(self._processor)
            loggers = None
            if self._log_processor is not None:
                loggers = LoggerProvider(
                    resource=resource, shutdown_on_exit=False, log_record_limits=LOG_LIMITS
                )
                loggers.add_log_record_processor(self._log_processor)
            process = self._processes[key] = _Process(provider, loggers)
        return process


def generate(
    processor: SpanProcessor,
    traces: int = DEFAULT_TRACES,
    seed: int = DEFAULT_SEED,
    anchor: datetime | None = None,
    log_processor: LogRecordProcessor | None = None,
) -> Summary:
    """Write ``traces`` traces, starting within the 24 hours before ``anchor`` (default now).

    The same seed gives the same spans and log records for the same anchor; another
    anchor moves the times only, and fewer traces give a prefix of the same traffic.
    Log records go to ``log_processor``; with None they are not produced.
    """
    if traces < 1:
        raise ValueError("traces must be at least 1")
    anchor = anchor or datetime.now(UTC)
    anchor_ns = int(anchor.timestamp()) * 1_000_000_000 + anchor.microsecond * 1000
    rng = random.Random(seed)
    providers = _Providers(processor, log_processor, SeededIdGenerator(f"{seed}:ids"))
    conventions: dict[str, Convention] = {
        "otel_genai": GenAI(),
        "openai_v2": OpenAIV2(),
        "openinference": OpenInference(),
    }
    writer = Writer(random.Random(f"{seed}:timing"), conventions)
    mix = Mix(rng, random.Random(f"{seed}:times"), anchor_ns)
    facts: list[TraceFacts] = []
    while len(facts) < traces:
        session = mix.session()
        process = providers.process(session.agent, session.environment)
        transcript: tuple[tuple[str, str], ...] = ()
        start, warm = session.start_ns, False
        for index in range(min(session.turns, traces - len(facts))):
            run = session.channel.story(rng, session.agent, session.customer, index)
            turn = Turn(session.session_id, session.user_id, session.environment, transcript, warm)
            trace_id, end = writer.write(process, run, turn, start)
            facts.append(
                TraceFacts(
                    trace_id, run.agent.name, run.agent.version, session.session_id, features(run)
                )
            )
            if run.answer is not None:
                transcript += ((run.request, run.answer),)
            gap = mix.think_time_ns()
            start, warm = end + gap, gap < CACHE_TTL_NS
    return Summary(tuple(facts), writer.spans, writer.logs)
