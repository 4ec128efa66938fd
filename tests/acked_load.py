"""A load of raw OTLP/HTTP protobuf requests that remembers exactly what was acknowledged.

For the crash tests: the client is ours, not an SDK's, so a 200 is known to be a 200
(an SDK retries and drops behind our back). Each trace's spans are split over two
requests sent by different client threads, round-robin over the collectors, so spans of
one trace arrive at different collectors at the same moment. ``stored_rollups`` reads
back what the database holds, for the checks.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

import httpx
import sqlalchemy as sa

from store.models import Project, Span, SpanCost, Trace
from tests.otlp import PROTOBUF, Ids, SpanSpec, request

Key = tuple[str, str]  # (trace_id, span_id)
T0 = 1_750_000_000_000_000_000


@dataclass(frozen=True)
class Part:
    """One request: half the spans of a few traces, for one collector."""

    collector: int
    body: bytes
    keys: frozenset[Key]


def trace_spans(ids: Ids, n: int) -> list[SpanSpec]:
    """An agent root, two priced LLM calls and a tool call, 4 spans."""
    trace, root = ids.trace(), ids.span()
    t = T0 + n * 10_000_000
    llm = {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o-mini"}
    return [
        SpanSpec(trace, root, "invoke_agent load", t, t + 9_000_000,
                 attributes={"gen_ai.operation.name": "invoke_agent",
                             "gen_ai.agent.name": "load"}),
        SpanSpec(trace, ids.span(), "chat gpt-4o-mini", t + 1_000_000, t + 3_000_000, root,
                 {**llm, "gen_ai.usage.input_tokens": 100 + n % 7,
                  "gen_ai.usage.output_tokens": 10 + n % 3}),
        SpanSpec(trace, ids.span(), "execute_tool search", t + 3_000_000, t + 4_000_000, root,
                 {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "search"}),
        SpanSpec(trace, ids.span(), "chat gpt-4o-mini", t + 4_000_000, t + 8_000_000, root,
                 {**llm, "gen_ai.usage.input_tokens": 200 + n % 5,
                  "gen_ai.usage.output_tokens": 20 + n % 11, "llm.cost.total": 0.0125}),
    ]  # fmt: skip


def parts(seed: str, requests: int, collectors: int, traces_per_request: int = 10) -> list[Part]:
    """``requests`` bodies (an even number): for each group of traces, the roots and first
    LLM calls in one request and the rest in the next, for the next collector along."""
    ids = Ids(seed)
    made: list[Part] = []
    for group in range(requests // 2):
        traces = [trace_spans(ids, group * traces_per_request + n)
                  for n in range(traces_per_request)]  # fmt: skip
        for half in (0, 1):
            specs = [spec for spans in traces for spec in spans[2 * half : 2 * half + 2]]
            made.append(
                Part(
                    (group + half) % collectors,
                    request(specs).SerializeToString(),
                    frozenset((spec.trace_id, spec.span_id) for spec in specs),
                )
            )
    return made


@dataclass
class AckedLoad:
    """Client threads posting ``parts`` to the collectors at ``urls`` until every part
    was tried once (or :meth:`stop`); each part's outcome is kept."""

    urls: list[str]
    project: str
    parts: list[Part]
    clients: int = 4
    acked: list[Part] = field(default_factory=list)
    failed: list[Part] = field(default_factory=list)  # refused, or no answer
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _todo: Iterator[Part] = field(init=False)
    _stopping: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._todo = iter(self.parts)

    def start(self) -> AckedLoad:
        self._threads = [threading.Thread(target=self._client) for _ in range(self.clients)]
        for thread in self._threads:
            thread.start()
        return self

    def join(self) -> AckedLoad:
        for thread in self._threads:
            thread.join()
        return self

    def stop(self) -> AckedLoad:
        self._stopping.set()
        return self.join()

    def acked_by(self, collector: int) -> int:
        with self._lock:
            return sum(1 for part in self.acked if part.collector == collector)

    def wait_acked(self, count: int, collector: int = 0, timeout: float = 60) -> None:
        """Until ``collector`` has acknowledged ``count`` requests: the load is on it."""
        deadline = time.monotonic() + timeout
        while self.acked_by(collector) < count:
            if time.monotonic() > deadline or not any(t.is_alive() for t in self._threads):
                raise AssertionError(
                    f"collector {collector} acknowledged {self.acked_by(collector)}"
                )
            time.sleep(0.02)

    def _next(self) -> Part | None:
        with self._lock:
            return None if self._stopping.is_set() else next(self._todo, None)

    def _client(self) -> None:
        headers = {**PROTOBUF, "x-reasonlens-project": self.project}
        with httpx.Client(timeout=30) as client:
            while (part := self._next()) is not None:
                try:
                    response = client.post(
                        f"{self.urls[part.collector]}/v1/traces", content=part.body,
                        headers=headers,
                    )  # fmt: skip
                    ok = response.status_code == 200
                except httpx.HTTPError:  # the collector died with the request
                    ok = False
                with self._lock:
                    (self.acked if ok else self.failed).append(part)

    @property
    def acked_keys(self) -> set[Key]:
        return {key for part in self.acked for key in part.keys}


def stored_keys(engine: sa.Engine, project: str) -> list[Key]:
    """Every stored span's (trace_id, span_id), duplicates included if there were any."""
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(Span.trace_id, Span.span_id)
            .join(Project, Project.id == Span.project_id)
            .where(Project.name == project)
        ).all()
    return [(trace_id, span_id) for trace_id, span_id in rows]


@dataclass(frozen=True)
class Rollup:
    span_count: int
    input_tokens: int
    output_tokens: int
    cost_usd: float | None


def assert_rollups_match_spans(engine: sa.Engine, project: str) -> dict[str, Rollup]:
    """Every trace's rollup row says what its stored spans sum to (a span's cost counts
    when its cost row says so, as ``store/rollup.py`` sums); the rollups, by trace id."""
    counted = sa.case((SpanCost.counted, SpanCost.cost_usd))
    with engine.connect() as connection:
        project_id = connection.scalar(sa.select(Project.id).where(Project.name == project))
        rows = connection.execute(
            sa.select(Trace.trace_id, Trace.span_count, Trace.input_tokens,
                      Trace.output_tokens, Trace.cost_usd)
            .where(Trace.project_id == project_id)
        ).all()  # fmt: skip
        sums = connection.execute(
            sa.select(
                Span.trace_id,
                sa.func.count(),
                sa.func.coalesce(sa.func.sum(Span.input_tokens), 0),
                sa.func.coalesce(sa.func.sum(Span.output_tokens), 0),
                sa.func.sum(counted),
            )
            .select_from(Span)
            .outerjoin(SpanCost, SpanCost.span_pk == Span.id)
            .where(Span.project_id == project_id)
            .group_by(Span.trace_id)
        ).all()
    stored = {row[0]: Rollup(*row[1:]) for row in rows}
    summed = {
        trace_id: Rollup(int(count), int(tokens_in), int(tokens_out), cost)
        for trace_id, count, tokens_in, tokens_out, cost in sums
    }
    assert stored.keys() == summed.keys()
    wrong = [(stored[t], summed[t]) for t in stored if not _same(stored[t], summed[t])]
    assert not wrong, (
        f"{len(wrong)} of {len(stored)} rollups are not their spans' sums: {wrong[:3]}"
    )
    return stored


def _same(rollup: Rollup, summed: Rollup) -> bool:
    """Equal, costs within float rounding (the rollup sums in another order)."""
    if rollup.cost_usd is None or summed.cost_usd is None:
        return rollup == summed
    return replace(rollup, cost_usd=0.0) == replace(summed, cost_usd=0.0) and math.isclose(
        rollup.cost_usd, summed.cost_usd, rel_tol=1e-9
    )
