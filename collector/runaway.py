"""Flagging a runaway trace while it is still arriving: an agent looping on a tool or
re-planning without end burns a month's budget in hours, and a flag raised after the
trace ended comes too late.

Each agent is its own baseline: a trace is a runaway when its steps (model and tool
calls) or tokens pass ``factor`` times the 95th percentile of the agent's traces of
the last week, and an absolute margin above it (so an agent whose traces take two steps
is not flagged at seven). An agent's own span usually ends, and so arrives, last: until
a span of the trace names its agent, the trace is judged against its service's
traces instead. An agent (or service) with fewer than ``min_traces`` recent traces has
no baseline yet and is not judged. Baselines are recomputed every ``refresh_seconds``
from the traces' rollups, not per write.

The writer reports each commit's traces (``Writer.on_commit``); a thread of its own
reads their rollups and flags, so ingest never waits for the check, and the check sees
every write: a trace is judged each time more of it arrives. A flag keeps what the
trace had reached and the limits it crossed (``store.models.Runaway``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from sqlalchemy.engine import Engine

from store import runaways as store
from store.batch import SpanBatch
from store.runaways import Usage

log = logging.getLogger(__name__)

NS_PER_DAY = 86_400 * 1_000_000_000
BASELINE_DAYS = 7
STEPS_MARGIN = 10
TOKENS_MARGIN = 20_000


@dataclass(frozen=True, slots=True)
class Baseline:
    traces: int
    steps_limit: float
    tokens_limit: float


BaselineKey = tuple[int, str, str]
"""(project id, "agent" or "service", its name)."""


def baselines(rows: list[Usage], factor: float, min_traces: int) -> dict[BaselineKey, Baseline]:
    """Per agent and per service: the limits past which a trace is a runaway."""
    by_key: dict[BaselineKey, list[tuple[int, int]]] = defaultdict(list)
    for project_id, agent, service, steps, tokens in rows:
        if agent is not None:
            by_key[(project_id, "agent", agent)].append((steps, tokens))
        if service is not None:
            by_key[(project_id, "service", service)].append((steps, tokens))
    found = {}
    for key, usage in by_key.items():
        if len(usage) < min_traces:
            continue
        steps_p95, tokens_p95 = np.percentile(np.asarray(usage, dtype=np.float64), 95, axis=0)
        found[key] = Baseline(
            len(usage),
            max(factor * steps_p95, steps_p95 + STEPS_MARGIN),
            max(factor * tokens_p95, tokens_p95 + TOKENS_MARGIN),
        )
    return found


class RunawayDetector:
    def __init__(
        self,
        engine: Engine,
        *,
        factor: float = 3.0,
        min_traces: int = 20,
        refresh_seconds: float = 300.0,
    ) -> None:
        self._engine = engine
        self._factor = factor
        self._min_traces = min_traces
        self._refresh_seconds = refresh_seconds
        self._baselines: dict[BaselineKey, Baseline] = {}
        self._computed = -float("inf")
        self._touched: dict[str, set[str]] = defaultdict(set)
        self._condition = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def on_commit(self, batches: list[SpanBatch]) -> None:
        """Called by the writer thread after each commit: only records the traces."""
        with self._condition:
            if self._stopping:
                return
            for batch in batches:
                for project, trace_ids in batch.trace_ids.items():
                    self._touched[project] |= trace_ids
            self._condition.notify()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="runaway-detector", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._condition:
            self._stopping = True
            self._condition.notify()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _run(self) -> None:
        while True:
            with self._condition:
                while not self._touched and not self._stopping:
                    self._condition.wait()
                if self._stopping:
                    return
                touched, self._touched = self._touched, defaultdict(set)
            try:
                self.check(touched)
            except Exception:
                log.exception("runaway check failed; the next write is checked again")

    def check(self, touched: dict[str, set[str]]) -> int:
        """Flag the touched traces (by project name) that are past their agent's
        limits; returns how many were flagged."""
        if time.monotonic() - self._computed >= self._refresh_seconds:
            self.refresh()
        if not self._baselines:
            return 0
        with self._engine.connect() as connection:
            ids = store.project_ids(connection, touched)
            usage = store.usage_of(connection, ids, touched)
        now = datetime.now(UTC)
        flags = []
        for trace in usage:
            if trace.agent_name is not None:
                key = (trace.project_id, "agent", trace.agent_name)
            elif trace.service_name is not None:
                key = (trace.project_id, "service", trace.service_name)
            else:
                continue
            baseline = self._baselines.get(key)
            if baseline is None:
                continue
            if trace.steps > baseline.steps_limit or trace.tokens > baseline.tokens_limit:
                flags.append(
                    {
                        "project_id": trace.project_id,
                        "trace_id": trace.trace_id,
                        "baseline": key[1],
                        "name": key[2],
                        "flagged_at": now,
                        "steps": trace.steps,
                        "tokens": trace.tokens,
                        "steps_limit": baseline.steps_limit,
                        "tokens_limit": baseline.tokens_limit,
                        "baseline_traces": baseline.traces,
                    }
                )
        if flags:
            with self._engine.begin() as connection:
                store.flag(connection, flags)
            log.warning("runaway traces flagged: %s", ", ".join(f["trace_id"] for f in flags))
        return len(flags)

    def refresh(self) -> None:
        since = time.time_ns() - BASELINE_DAYS * NS_PER_DAY
        with self._engine.connect() as connection:
            rows = store.recent_usage(connection, since)
        self._baselines = baselines(rows, self._factor, self._min_traces)
        self._computed = time.monotonic()
