"""Trace queries: a typed filter turned into SQL by one function, keyset pagination.

Every filter value is a bound parameter; free text is matched with LIKE and its
wildcards escaped, so ``%``, ``_`` and quotes in a search are literal, and its case is
folded beyond ASCII on both databases (``store/text_search.py``).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import orjson
import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased

from store.logs import TraceLogs, trace_logs
from store.models import Project, Span, Trace
from store.text_search import contains_text
from store.vocabulary import Status

MAX_PAGE = 1000


class SortKey(StrEnum):
    START_TIME = "start_time"
    DURATION = "duration"
    COST = "cost"
    TOKENS = "tokens"
    SPANS = "spans"


class InvalidCursor(ValueError):
    """A pagination cursor that this query did not produce."""


@dataclass(frozen=True, slots=True)
class TraceFilter:
    """Which traces to list; None means "any". Times in ns since the epoch, bounds inclusive."""

    project: str | None = None
    service: str | None = None
    agent: str | None = None
    agent_version: str | None = None
    model: str | None = None
    status: Status | None = None
    session_id: str | None = None
    user_id: str | None = None
    start_after_ns: int | None = None
    start_before_ns: int | None = None
    min_cost_usd: float | None = None
    max_cost_usd: float | None = None
    min_duration_ns: int | None = None
    max_duration_ns: int | None = None
    text: str | None = None
    # A share of traces, 0..1, chosen by row id: the same traces every time it is asked.
    sample_rate: float | None = None


# Sampling hashes the row id (Knuth's multiplicative constant) into buckets, so the
# sample does not follow any period in the order traces arrived.
_SAMPLE_MULTIPLIER = 2654435761
SAMPLE_BUCKETS = 1_000_003


def sampled(row_id: sa.ColumnElement[int], rate: float) -> sa.ColumnElement[bool]:
    """Whether the row falls in the sample; products stay below 2**63 for ids < 3e9."""
    bucket = (row_id * _SAMPLE_MULTIPLIER) % SAMPLE_BUCKETS
    return bucket < round(rate * SAMPLE_BUCKETS)


@dataclass(frozen=True, slots=True)
class TraceRecord:
    trace: Trace
    project: str


@dataclass(frozen=True, slots=True)
class TracePage:
    traces: list[TraceRecord]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class TraceDetail:
    trace: Trace
    project: str
    spans: Sequence[Span]
    logs: TraceLogs


def sort_expression(key: SortKey) -> sa.ColumnElement[float] | sa.ColumnElement[int]:
    match key:
        case SortKey.START_TIME:
            return Trace.start_time_ns
        case SortKey.DURATION:
            return Trace.duration_ns
        case SortKey.COST:
            return Trace.cost_sort_key()
        case SortKey.TOKENS:
            return Trace.tokens_sort_key()
        case SortKey.SPANS:
            return Trace.span_count


def filter_conditions(f: TraceFilter) -> list[sa.ColumnElement[bool]]:
    conditions: list[sa.ColumnElement[bool]] = []
    if f.project is not None:
        # By id through a scalar subquery, not by joined name: the planner then sees a
        # project_id equality and can range-scan (project_id, start_time_ns).
        project_id = sa.select(Project.id).where(Project.name == f.project).scalar_subquery()
        conditions.append(Trace.project_id == project_id)
    equal = (
        (Trace.service_name, f.service),
        (Trace.agent_name, f.agent),
        (Trace.agent_version, f.agent_version),
        (Trace.status, f.status.value if f.status else None),
        (Trace.session_id, f.session_id),
        (Trace.user_id, f.user_id),
    )
    conditions += [column == value for column, value in equal if value is not None]
    bounds = (
        (Trace.start_time_ns, f.start_after_ns, f.start_before_ns),
        (Trace.duration_ns, f.min_duration_ns, f.max_duration_ns),
    )
    if f.min_cost_usd is not None or f.max_cost_usd is not None:
        # On the column the time walk's index carries (an unpriced trace, NULL, is in
        # no range); sorted by cost, ``traces_query`` bounds the cost index's walk too.
        conditions.append(Trace.cost_usd >= (f.min_cost_usd or 0.0))
        if f.max_cost_usd is not None:
            conditions.append(Trace.cost_usd <= f.max_cost_usd)
    for column, low, high in bounds:
        if low is not None:
            conditions.append(column >= low)
        if high is not None:
            conditions.append(column <= high)
    if f.sample_rate is not None and f.sample_rate < 1:
        conditions.append(sampled(Trace.id, f.sample_rate))
    if f.model is not None:
        # An alias: a query that also selects from spans (the compare page's tool and
        # model mix) would otherwise correlate the subquery's spans away and fail.
        call = aliased(Span, name="model_call")
        conditions.append(
            sa.exists().where(
                call.project_id == Trace.project_id,
                call.trace_id == Trace.trace_id,
                call.model == f.model,
            )
        )
    if f.text:
        columns = (Trace.input, Trace.output, Trace.name)
        conditions.append(sa.or_(*(contains_text(column, f.text) for column in columns)))
    return conditions


def traces_query(
    f: TraceFilter,
    *,
    sort: SortKey = SortKey.START_TIME,
    descending: bool = True,
    limit: int = 50,
    cursor: str | None = None,
) -> sa.Select[tuple[Trace, str, float | int]]:
    """The statement behind :func:`list_traces` (fetches ``limit + 1`` to see a next page)."""
    key = sort_expression(sort)
    query = (
        sa.select(Trace, Project.name, key.label("sort_value"))
        .join(Project, Project.id == Trace.project_id)
        .where(*filter_conditions(f), *sort_key_bounds(f, sort))
    )
    if cursor is not None:
        query = query.where(*after_key(key, decode_cursor(cursor), descending=descending))
    return query.order_by(*trace_order(key, descending)).limit(limit + 1)


def sort_key_bounds(f: TraceFilter, sort: SortKey) -> list[sa.ColumnElement[bool]]:
    """The cost range again on the cost sort key, when the list is sorted by cost: the
    cost index's walk then starts and stops at the range (the filter itself is on the
    raw column, which no index leads with). Its -1 for unpriced traces is below any
    bound >= 0, so the result is the same."""
    if sort is not SortKey.COST or (f.min_cost_usd is None and f.max_cost_usd is None):
        return []
    key = Trace.cost_sort_key()
    bounds = [key >= (f.min_cost_usd or 0.0)]
    if f.max_cost_usd is not None:
        bounds.append(key <= f.max_cost_usd)
    return bounds


def trace_order(
    key: sa.ColumnElement[float] | sa.ColumnElement[int], descending: bool
) -> tuple[sa.UnaryExpression[object], ...]:
    if descending:
        return key.desc(), Trace.id.desc()
    return key.asc(), Trace.id.asc()


def after_key(
    key: sa.ColumnElement[float] | sa.ColumnElement[int],
    bound: tuple[float | int, int],
    *,
    descending: bool,
) -> list[sa.ColumnElement[bool]]:
    """The traces strictly after ``bound`` (a sort value and row id) in the order.

    Written as `key <= v AND (key < v OR id < last)` rather than a row-value
    comparison, so both databases use the sort column's index for the range."""
    value, last_id = bound
    if descending:
        return [key <= value, sa.or_(key < value, Trace.id < last_id)]
    return [key >= value, sa.or_(key > value, Trace.id > last_id)]


def through_key(
    key: sa.ColumnElement[float] | sa.ColumnElement[int],
    bound: tuple[float | int, int],
    *,
    descending: bool,
) -> list[sa.ColumnElement[bool]]:
    """The traces up to and including ``bound`` in the order: :func:`after_key`'s
    complement."""
    value, last_id = bound
    if descending:
        return [key >= value, sa.or_(key > value, Trace.id >= last_id)]
    return [key <= value, sa.or_(key < value, Trace.id <= last_id)]


def list_traces(
    session: Session,
    f: TraceFilter,
    *,
    sort: SortKey = SortKey.START_TIME,
    descending: bool = True,
    limit: int = 50,
    cursor: str | None = None,
) -> TracePage:
    limit = max(1, min(limit, MAX_PAGE))
    query = traces_query(f, sort=sort, descending=descending, limit=limit, cursor=cursor)
    rows = session.execute(query).all()
    records = [TraceRecord(trace, project) for trace, project, _ in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_cursor(last.sort_value, last[0].id)
    return TracePage(records, next_cursor)


@dataclass(frozen=True, slots=True)
class FilterChoices:
    """Values seen in a project, offered as suggestions by the traces page's form."""

    agents: list[str]
    versions: list[tuple[str, str]]  # (agent, version)
    models: list[str]


def filter_choices(session: Session, project_id: int, limit: int = 100) -> FilterChoices:
    """Distinct agents, agent versions and models of a project, each at most ``limit``.

    A plain ``SELECT DISTINCT`` reads every trace or model span of the project (tens of
    milliseconds at 1,000,000 spans, on every page view); a loose index scan costs one
    index seek per distinct value instead.
    """
    in_project = Trace.project_id == project_id
    agents = _distinct(session, Trace.agent_name, [in_project], limit)
    versions = [
        (agent, version)
        for agent in agents
        for version in _distinct(
            session, Trace.agent_version, [in_project, Trace.agent_name == agent], limit
        )
    ]
    models = _distinct(session, Span.model, [Span.project_id == project_id], limit)
    return FilterChoices(agents, versions[:limit], models)


def _distinct(
    session: Session,
    column: sa.orm.InstrumentedAttribute[str | None],
    where: list[sa.ColumnElement[bool]],
    limit: int,
) -> list[str]:
    """Distinct non-null values of ``column`` in order, by a recursive "next value after"
    seek (a loose index scan): ``column`` must follow ``where``'s equalities in an index."""
    lowest, known = sa.func.min(column), column.is_not(None)  # `known`: partial indexes
    seen = sa.select(lowest.label("value")).where(*where, known).cte("seen", recursive=True)
    after = sa.select(lowest).where(*where, known, column > seen.c.value).scalar_subquery()
    seen = seen.union_all(sa.select(after).where(seen.c.value.is_not(None)))
    query = sa.select(seen.c.value).where(seen.c.value.is_not(None)).limit(limit)
    return list(session.scalars(query))


def get_trace(session: Session, trace_id: str, project: str | None = None) -> list[TraceDetail]:
    """The trace (its spans and log records) in every project that has this id, or the
    named one."""
    query = (
        sa.select(Trace, Project.name)
        .join(Project, Project.id == Trace.project_id)
        .where(Trace.trace_id == trace_id)
    )
    if project is not None:
        query = query.where(Project.name == project)
    else:
        # The only index on trace_id is (project_id, trace_id): naming every project
        # lets it serve one lookup per project instead of a scan of all traces.
        query = query.where(Trace.project_id.in_(sa.select(Project.id)))
    details = []
    for trace, project_name in session.execute(query).all():
        spans = session.scalars(
            sa.select(Span)
            .where(Span.project_id == trace.project_id, Span.trace_id == trace_id)
            .order_by(Span.start_time_ns, Span.span_id)
        ).all()
        logs = trace_logs(session, trace.project_id, trace_id, spans)
        details.append(TraceDetail(trace, project_name, spans, logs))
    return details


def encode_cursor(value: float | int, row_id: int) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([value, row_id])).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[float | int, int]:
    try:
        value, row_id = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, TypeError, binascii.Error, orjson.JSONDecodeError):
        raise InvalidCursor(f"invalid cursor {cursor[:40]!r}") from None
    if not isinstance(row_id, int) or isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidCursor(f"invalid cursor {cursor[:40]!r}")
    return value, row_id


def count_and_oldest(connection: sa.Connection, f: TraceFilter) -> tuple[int, int | None]:
    """How many traces the filter selects, and the earliest start among them (ns)."""
    count, oldest = connection.execute(
        sa.select(sa.func.count(), sa.func.min(Trace.start_time_ns)).where(*filter_conditions(f))
    ).one()
    return int(count), oldest
