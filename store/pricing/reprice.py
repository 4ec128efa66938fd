"""Re-pricing stored spans after the price book changed, without stopping ingest.

Traces are taken in id order, a bounded batch per transaction: on SQLite the writer
lock is held for one batch at a time, so ingest's commits interleave with the
re-pricing's; on PostgreSQL row locks are held as briefly. The traces' model calls are
read with their stored costs (``span_costs``, a narrow table: the wide span rows are
never rewritten), and their costs summed here as the rollup sums them (null when none
has a cost, unpriced calls counted) rather than re-read per trace. Only costs that
change are written (a trace's sum within 1e-12 of the stored one is the same sum in
another order). A re-pricing that stops half way leaves every batch it committed
consistent (span costs and their traces together) and can simply be run again: it
computes the same values.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import sqlalchemy as sa

from store import dialect
from store.models import Project, Span, SpanCost, Trace
from store.models.span_cost import cost_of_span
from store.pricing.book import PriceBook, cost_columns
from store.pricing.custom import load_rules
from store.pricing.prices import Price
from store.vocabulary import USAGE_KINDS
from store.write import write_prices

BATCH_TRACES = 2000

Progress = Callable[[int, int, int], None]  # (traces done, model calls read, spans changed)

_READ = (
    Span.project_id,
    Span.trace_id,
    Span.id,
    Span.provider,
    Span.model,
    Span.request_model,
    Span.start_time_ns,
    Span.input_tokens,
    Span.output_tokens,
    Span.cache_read_tokens,
    Span.cache_write_tokens,
    Span.reasoning_tokens,
    SpanCost.cost_usd,
    SpanCost.reported_cost_usd,
    SpanCost.computed_cost_usd,
    SpanCost.cost_source,
    SpanCost.price_key,
)


@dataclass(frozen=True, slots=True)
class Repriced:
    calls: int  # model calls read
    changed: int  # of them, spans whose cost columns changed
    traces: int  # traces whose cost was recomputed
    seconds: float


def reprice(
    engine: sa.Engine,
    *,
    since_ns: int | None = None,
    project_id: int | None = None,
    batch_traces: int = BATCH_TRACES,
    progress: Progress | None = None,
) -> Repriced:
    """Recompute the cost of every model call of the traces that started at
    ``since_ns`` or later (in one project, or all) at today's price book."""
    began = time.perf_counter()
    with engine.connect() as connection:
        book = PriceBook(load_rules(connection))
        names = dict(connection.execute(sa.select(Project.id, Project.name)).all())
    conditions = _selected(since_ns, project_id)
    done = calls = changed = traces = 0
    after = 0
    while True:
        with engine.begin() as connection:
            batch = connection.execute(
                sa.select(Trace.id, Trace.project_id, Trace.trace_id, Trace.cost_usd,
                          Trace.unpriced_count)
                .where(Trace.id > after, *conditions)
                .order_by(Trace.id)
                .limit(batch_traces)
            ).all()  # fmt: skip
            if not batch:
                break
            after = batch[-1].id
            rows = _model_calls(connection, batch)
            work = _changes(rows, batch, book, names)
            if work.spans:
                write_prices(connection, {k: p.as_json() for k, p in work.prices.items()})
                connection.execute(_cost_upsert(connection.dialect.name), work.spans)
            if work.gone:
                connection.execute(_COST_DELETE, work.gone)
            if work.traces:
                connection.execute(_TRACE_UPDATE, work.traces)
        done += len(batch)
        calls += len(rows)
        changed += len(work.spans) + len(work.gone)
        traces += len(work.traces)
        if progress:
            progress(done, calls, changed)
    return Repriced(calls, changed, traces, time.perf_counter() - began)


def traces_to_reprice(
    connection: sa.Connection, *, since_ns: int | None = None, project_id: int | None = None
) -> int:
    """How many traces :func:`reprice` would take: the total its progress counts to."""
    count = sa.select(sa.func.count()).select_from(Trace)
    return connection.execute(count.where(*_selected(since_ns, project_id))).scalar_one()


def _selected(since_ns: int | None, project_id: int | None) -> list[sa.ColumnElement[bool]]:
    conditions = []
    if since_ns is not None:
        conditions.append(Trace.start_time_ns >= since_ns)
    if project_id is not None:
        conditions.append(Trace.project_id == project_id)
    return conditions


def _model_calls(connection: sa.Connection, batch: list[sa.Row[Any]]) -> list[sa.Row[Any]]:
    by_project: dict[int, list[str]] = defaultdict(list)
    for trace in batch:
        by_project[trace.project_id].append(trace.trace_id)
    rows: list[sa.Row[Any]] = []
    for project, trace_ids in by_project.items():
        rows += connection.execute(
            sa.select(*_READ)
            .select_from(sa.outerjoin(Span, SpanCost, cost_of_span(Span)))
            .where(
                Span.project_id == project,
                Span.trace_id.in_(trace_ids),
                Span.kind.in_(_USAGE_KINDS),
            )
        ).all()
    return rows


@dataclass(slots=True)
class _Work:
    spans: list[dict[str, object]] = field(default_factory=list)  # changed span_costs rows
    gone: list[dict[str, object]] = field(default_factory=list)  # span_costs keys to delete
    traces: list[dict[str, object]] = field(default_factory=list)  # changed trace costs
    prices: dict[str, Price] = field(default_factory=dict)


def _changes(
    rows: list[sa.Row[Any]], batch: list[sa.Row[Any]], book: PriceBook, names: dict[int, str]
) -> _Work:
    work = _Work()
    costs: dict[tuple[int, str], list[float]] = defaultdict(list)
    unpriced: dict[tuple[int, str], int] = defaultdict(int)
    for row in rows:
        new = cost_columns(
            book,
            names.get(row.project_id),
            True,
            row.provider,
            row.model or row.request_model,
            row.start_time_ns,
            (
                row.input_tokens,
                row.output_tokens,
                row.cache_read_tokens,
                row.cache_write_tokens,
                row.reasoning_tokens,
            ),
            row.reported_cost_usd,
            work.prices,
        )
        cost, _, _, source, _ = new
        trace = (row.project_id, row.trace_id)
        if cost is not None:
            costs[trace].append(cost)
        if source == "unpriced":
            unpriced[trace] += 1
        stored = (row.cost_usd, row.reported_cost_usd, row.computed_cost_usd)
        if new == (*stored, row.cost_source, row.price_key):
            continue
        span = {"span_pk": row.id}
        if source is None:  # nothing to say about its cost (a row of an older rule)
            work.gone.append(span)
        else:
            work.spans.append(span | dict(zip(_COST_VALUES, new, strict=True)))
    for trace in batch:
        found = costs.get((trace.project_id, trace.trace_id))
        # As the rollup sums: null when no model call has a cost (unknown is not $0).
        total = math.fsum(found) if found else None
        count = unpriced.get((trace.project_id, trace.trace_id), 0)
        if (total, count) != (trace.cost_usd, trace.unpriced_count) and not (
            total is not None
            and trace.cost_usd is not None
            and math.isclose(total, trace.cost_usd, rel_tol=1e-12)
            and count == trace.unpriced_count
        ):
            work.traces.append({"trace": trace.id, "cost": total, "unpriced": count})
    return work


_USAGE_KINDS = [kind.value for kind in USAGE_KINDS]
_COST_VALUES = ("cost_usd", "reported_cost_usd", "computed_cost_usd", "cost_source", "price_key")
_KEY = ("span_pk",)
_costs, _traces = SpanCost.__table__, Trace.__table__


@cache
def _cost_upsert(dialect_name: str) -> sa.Executable:
    """A model call's new cost; a call stored before costs were computed gains its row."""
    insert = dialect.insert_for(dialect_name, _costs).values(
        {name: sa.bindparam(name) for name in (*_KEY, *_COST_VALUES)} | {"counted": True}
    )
    return insert.on_conflict_do_update(
        index_elements=list(_KEY), set_={name: insert.excluded[name] for name in _COST_VALUES}
    )


_COST_DELETE = _costs.delete().where(*(_costs.c[name] == sa.bindparam(name) for name in _KEY))
_TRACE_UPDATE = (
    _traces.update()
    .where(_traces.c.id == sa.bindparam("trace"))
    .values(cost_usd=sa.bindparam("cost"), unpriced_count=sa.bindparam("unpriced"))
)
