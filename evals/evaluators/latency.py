"""Latency: a trace's duration and its spans' durations against the suite's limits.

Verdict ``duration_ms`` per trace: value the trace's duration in milliseconds (so the
suite's ``max_p50``/``max_p95`` thresholds read milliseconds); fails when the trace is
over ``max_ms`` or any span of a limited kind is over its ``span_max_ms``, pointing at
the slowest offending span. ``finish`` gives the run's p50/p95 of trace durations and
per span kind, from float32 arrays kept across chunks (4 bytes a span).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from evals.evaluator_options import LatencyOptions
from evals.evaluators.base import Evaluator, scores_frame
from evals.frames import Chunk

NS_PER_MS = 1_000_000
_SPAN_FIELDS = ("kind", "name", "ms", "limit", "over")


class Latency(Evaluator):
    name = "latency"
    metric = "duration_ms"
    options: LatencyOptions

    def __init__(self, options: LatencyOptions) -> None:
        super().__init__(options)
        self._traces: list[np.ndarray] = []
        self._kinds: dict[str, list[np.ndarray]] = {}

    def score(self, chunk: Chunk) -> pd.DataFrame:
        traces, spans = chunk.traces, chunk.spans
        ids = traces["trace_id"]
        duration = pd.to_numeric(traces["duration_ns"], errors="coerce").to_numpy(float) / NS_PER_MS
        span_ms = pd.to_numeric(spans["duration_ns"], errors="coerce").to_numpy(float) / NS_PER_MS
        kinds = spans["kind"].to_numpy(dtype=object)
        self._keep(duration, kinds, span_ms)

        limit = self.options.max_ms
        slow_trace = duration > limit if limit is not None else np.zeros(len(ids), bool)
        span_limit = np.full(len(spans), np.inf)
        for kind, kind_limit in self.options.span_max_ms.items():
            span_limit[kinds == kind] = kind_limit
        over = span_ms > span_limit
        offending = spans.loc[over, ["trace_id", "span_id", "kind", "name"]].assign(
            ms=span_ms[over], limit=span_limit[over]
        )
        counts = offending.groupby("trace_id", sort=False)["span_id"].size()
        slowest = offending.sort_values("ms", ascending=False, kind="stable")
        slowest = slowest.drop_duplicates("trace_id").set_index("trace_id")
        slowest = slowest.assign(over=counts)
        worst = slowest.reindex(ids)
        slow_span = worst["span_id"].notna().to_numpy()
        failed = slow_trace | slow_span
        passed = pd.Series(~failed, dtype=object).where(~np.isnan(duration) | failed, None)
        explanation = np.full(len(ids), None, dtype=object)
        at = np.flatnonzero(failed)
        columns = [worst[name].to_numpy(dtype=object)[at] for name in _SPAN_FIELDS]
        explanation[at] = [
            _explain(ms, limit, trace_over, dict(zip(_SPAN_FIELDS, span, strict=True)))
            for ms, trace_over, *span in zip(duration[at], slow_trace[at], *columns, strict=True)
        ]
        return scores_frame(
            {
                "trace_id": ids.to_numpy(),
                "span_id": worst["span_id"].to_numpy(dtype=object),
                "metric": self.metric,
                "value": duration,
                "passed": passed.to_numpy(),
                "label": np.select(
                    [slow_trace, slow_span], ["slow_trace", "slow_span"], "within_limits"
                ),
                "explanation": explanation,
            }
        )

    def _keep(self, duration: np.ndarray, kinds: np.ndarray, span_ms: np.ndarray) -> None:
        """Durations for the run's percentiles: float32 arrays, not the chunk's frames."""
        self._traces.append(duration[~np.isnan(duration)].astype(np.float32))
        known = ~np.isnan(span_ms)
        codes, names = pd.factorize(kinds[known])
        values = span_ms[known].astype(np.float32)
        for code, kind in enumerate(names):
            self._kinds.setdefault(str(kind), []).append(values[codes == code])

    def finish(self) -> dict[str, Any]:
        kinds = {kind: _percentiles(parts) for kind, parts in sorted(self._kinds.items())}
        return {"duration_ms": _percentiles(self._traces), "span_kinds_ms": kinds}


def _percentiles(parts: list[np.ndarray]) -> dict[str, float | int | None]:
    values = np.concatenate(parts) if parts else np.empty(0, np.float32)
    if not len(values):
        return {"count": 0, "p50": None, "p95": None}
    p50, p95 = np.percentile(values, [50, 95])
    return {"count": len(values), "p50": round(float(p50), 3), "p95": round(float(p95), 3)}


def _explain(ms: float, limit: float | None, trace_over: bool, span: dict[str, Any]) -> str:
    """Why a trace failed: its own duration, and the slowest span over its kind's limit
    (``span``'s fields are None when no span was)."""
    parts = []
    if trace_over:
        parts.append(f"took {ms:,.0f} ms, over the limit of {limit:,.0f} ms")
    if isinstance(span["kind"], str):
        others = int(span["over"]) - 1
        more = {0: "", 1: " (and 1 more span over its limit)"}.get(
            others, f" (and {others} more spans over their limits)"
        )
        parts.append(
            f"{span['kind']} span {span['name']!s} took {span['ms']:,.0f} ms, over the "
            f"{span['kind']} limit of {span['limit']:,.0f} ms{more}"
        )
    return "; ".join(parts)
