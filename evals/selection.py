"""A suite's ``select`` read as the store's trace filter, at the moment a run starts.

``since: 24h`` is an age: it is resolved once, when the run starts, so every chunk of
one run reads the same window however long the run takes.
"""

from __future__ import annotations

from evals.suite import Selection, SuiteError
from store.queries import TraceFilter
from store.times import BadParameter, time_ns


def trace_filter(select: Selection, *, now_ns: int | None = None) -> TraceFilter:
    try:
        start_after = time_ns("since", select.since, now_ns=now_ns)
        start_before = time_ns("until", select.until, now_ns=now_ns)
    except BadParameter as error:
        raise SuiteError(f"select.{error}") from None
    return TraceFilter(
        project=select.project,
        service=select.service,
        agent=select.agent,
        agent_version=select.agent_version,
        model=select.model,
        status=select.status,
        session_id=select.session_id,
        user_id=select.user_id,
        start_after_ns=start_after,
        start_before_ns=start_before,
        min_cost_usd=select.min_cost,
        max_cost_usd=select.max_cost,
        min_duration_ns=_ns(select.min_duration_ms),
        max_duration_ns=_ns(select.max_duration_ms),
        text=select.q,
    )


def _ns(milliseconds: float | None) -> int | None:
    return None if milliseconds is None else int(milliseconds * 1_000_000)
