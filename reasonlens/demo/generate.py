"""Generate the demo traffic: N traces over the day before an anchor, deterministic per seed.

Generation only builds spans: the caller passes the span processor they go to (the
demo's OTLP exporter, or an in-memory exporter in tests), and owns flushing it.
Each agent service gets its own TracerProvider (its own resource, as separate
processes would have), all sharing one seeded id generator.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanLimits, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_ON
from opentelemetry.trace import Tracer

from reasonlens.demo.features import features
from reasonlens.demo.ids import SeededIdGenerator
from reasonlens.demo.mix import CACHE_TTL_NS, Mix
from reasonlens.demo.script import Agent, Feature
from reasonlens.demo.writers.flow import Turn, Writer
from reasonlens.demo.writers.genai import GenAI
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

    def count(self, feature: Feature) -> int:
        return sum(feature in trace.features for trace in self.traces)

    def agents(self) -> Counter[str]:
        """Traces per agent and version, e.g. ``support 1.5``."""
        return Counter(f"{trace.agent} {trace.version}" for trace in self.traces)


class _Providers:
    def __init__(self, processor: SpanProcessor, ids: SeededIdGenerator) -> None:
        self._processor = processor
        self._ids = ids
        self._providers: dict[tuple[str, str, str], TracerProvider] = {}

    def tracer(self, agent: Agent, environment: str) -> Tracer:
        key = (agent.service, agent.version, environment)
        provider = self._providers.get(key)
        if provider is None:
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
            self._providers[key] = provider
        return provider.get_tracer(agent.scope, agent.scope_version)


def generate(
    processor: SpanProcessor,
    traces: int = DEFAULT_TRACES,
    seed: int = DEFAULT_SEED,
    anchor: datetime | None = None,
) -> Summary:
    """Write ``traces`` traces, starting within the 24 hours before ``anchor`` (default now).

    The same seed gives the same spans for the same anchor; another anchor moves the
    times only, and fewer traces give a prefix of the same traffic.
    """
    if traces < 1:
        raise ValueError("traces must be at least 1")
    anchor = anchor or datetime.now(UTC)
    anchor_ns = int(anchor.timestamp()) * 1_000_000_000 + anchor.microsecond * 1000
    rng = random.Random(seed)
    providers = _Providers(processor, SeededIdGenerator(f"{seed}:ids"))
    writer = Writer(
        random.Random(f"{seed}:timing"), {"otel_genai": GenAI(), "openinference": OpenInference()}
    )
    mix = Mix(rng, random.Random(f"{seed}:times"), anchor_ns)
    facts: list[TraceFacts] = []
    while len(facts) < traces:
        session = mix.session()
        tracer = providers.tracer(session.agent, session.environment)
        transcript: tuple[tuple[str, str], ...] = ()
        start, warm = session.start_ns, False
        for index in range(min(session.turns, traces - len(facts))):
            run = session.channel.story(rng, session.agent, session.customer, index)
            turn = Turn(session.session_id, session.user_id, session.environment, transcript, warm)
            trace_id, end = writer.write(tracer, run, turn, start)
            facts.append(
                TraceFacts(
                    trace_id, run.agent.name, run.agent.version, session.session_id, features(run)
                )
            )
            if run.answer is not None:
                transcript += ((run.request, run.answer),)
            gap = mix.think_time_ns()
            start, warm = end + gap, gap < CACHE_TTL_NS
    return Summary(tuple(facts), writer.spans)
