"""Online suites: production traffic scored continuously, each trace once.

A scheduled run of an online suite selects the traces that started after the window
the previous run covered and at least ``settle`` before now (so their late spans have
arrived), within the suite's own selection and sample. Windows of start time follow
one another without gap or overlap, and a suite runs one job at a time, so no trace
is scored twice. Spans arriving more than ``settle`` after their trace started are not
scored with it; a trace that arrives whole that late falls behind the window.

Its LLM judge may be capped per UTC day: what the suite's runs of the day spent on the
judge is read from their summaries, and the run's judge stops at the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime

import sqlalchemy as sa

from evals.selection import trace_filter
from evals.suite import Suite
from store import evals as store_evals
from store.queries import TraceFilter, count_and_oldest


@dataclass(frozen=True, slots=True)
class Window:
    selection: TraceFilter
    until_ns: int  # the window's end, inclusive: the next run starts after it


def window(
    suite: Suite, scored_until_ns: int | None, now_ns: int, *, first_from_ns: int | None = None
) -> Window | None:
    """The online run's selection; None for a suite that is not online.

    The first run starts at the selection's ``since`` if it has one, else at
    ``first_from_ns`` (when the suite was saved): an online suite scores traffic from
    when it was set up, not the project's whole history.
    """
    if suite.online is None:
        return None
    base = trace_filter(suite.select, now_ns=now_ns)
    until = now_ns - suite.online.settle_ns
    if base.start_before_ns is not None:
        until = min(until, base.start_before_ns)
    since = base.start_after_ns
    if scored_until_ns is not None:
        since = max(since or 0, scored_until_ns + 1)
    elif since is None:
        since = first_from_ns
    selection = replace(
        base, start_after_ns=since, start_before_ns=until, sample_rate=suite.online.sample_rate
    )
    # An empty window (nothing settled since its start yet) leaves the mark at its start,
    # never before it: a first run within ``settle`` of the suite's saving would else
    # move the mark back over traffic from before the suite.
    return Window(selection, until if since is None else max(until, since - 1))


@dataclass(frozen=True, slots=True)
class Backlog:
    traces: int  # arrived and sampled, not yet in a finished run's window
    oldest_ns: int | None  # the start of the oldest of them


def backlog(
    engine: sa.Engine,
    suite: Suite,
    scored_until_ns: int | None,
    now_ns: int,
    *,
    first_from_ns: int | None = None,
) -> Backlog:
    """What the online suite has still to score, settled or not."""
    pending = window(suite, scored_until_ns, now_ns, first_from_ns=first_from_ns)
    assert pending is not None, "only online suites have a backlog"
    selection = replace(pending.selection, start_before_ns=now_ns)
    with engine.connect() as connection:
        count, oldest = count_and_oldest(connection, selection)
    return Backlog(count, oldest)


def ns_of(moment: datetime) -> int:
    """A stored time as nanoseconds since the epoch (naive means UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1_000_000) * 1000


def judge_budget(engine: sa.Engine, suite: Suite, suite_id: int) -> float | None:
    """What the suite's LLM judge may still spend today (UTC); None when uncapped."""
    if suite.online is None or suite.online.max_judge_usd_per_day is None:
        return None
    midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    with engine.connect() as connection:
        summaries = store_evals.run_summaries_since(connection, suite_id, midnight)
    spent = sum(_judge_cost(summary) for summary in summaries)
    return max(0.0, suite.online.max_judge_usd_per_day - spent)


def _judge_cost(summary: dict[str, object]) -> float:
    evaluators = summary.get("evaluators")
    if not isinstance(evaluators, dict):
        return 0.0
    extra = (evaluators.get("llm_judge") or {}).get("extra") or {}
    cost = extra.get("cost_usd")
    return float(cost) if isinstance(cost, int | float) else 0.0
