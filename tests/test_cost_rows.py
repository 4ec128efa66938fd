"""Each span's cost lands on its own span: the writer's two ways of finding a span's row
id (an offset from the batch's numbering, or the span's key) agree, on both databases."""

from __future__ import annotations

import sqlalchemy as sa

from collector.costing import cost_values, span_cost
from collector.normalize.canonical import Canonical
from collector.rows import span_row
from collector.spans import RawSpan, Resource, Scope
from store.batch import ROW_COLUMNS, SpanRow, make_batch
from store.models import Project, Span, SpanCost
from store.vocabulary import SpanKind
from store.write import write_spans

T0 = 1_700_000_000_000_000_000


def rows(trace: int, spans: int) -> list[SpanRow]:
    """A trace of ``spans`` spans; every other one an LLM call that reports a cost of its
    own (trace + span / 1000 dollars), so a cost on the wrong span shows."""
    out = []
    for number in range(spans):
        kind = SpanKind.LLM if number % 2 else SpanKind.AGENT
        raw = RawSpan(f"{trace:032x}", f"{number + 1:016x}", None, "s", 1, T0 + number,
                      T0 + number + 1, {}, Resource({}), Scope())  # fmt: skip
        reported = trace + number / 1000 if kind is SpanKind.LLM else None
        canonical = Canonical(kind=kind, model="m", input_tokens=3, cost_usd=reported)
        cost = cost_values(canonical, span_cost(canonical, raw.start_time_ns, {}))
        out.append(span_row(raw, canonical, "{}", "{}", cost))
    return out


TRACE_ID, SPAN_ID, COST = (ROW_COLUMNS.index(name) for name in ("trace_id", "span_id", "cost_usd"))


def expected(*groups: tuple[str, list[SpanRow]]) -> set[tuple[str, str, str, float]]:
    """(project, trace_id, span_id, cost_usd) of every span sent with a cost."""
    return {
        (project, row[TRACE_ID], row[SPAN_ID], row[COST])
        for project, found in groups
        for row in found
        if row[COST] is not None
    }


def stored(engine: sa.Engine) -> set[tuple[str, str, str, float]]:
    query = (
        sa.select(Project.name, Span.trace_id, Span.span_id, SpanCost.cost_usd)
        .join(Span, Span.project_id == Project.id)
        .join(SpanCost, SpanCost.span_pk == Span.id)
    )
    with engine.connect() as connection:
        return {tuple(row) for row in connection.execute(query)}  # type: ignore[misc]


def write(engine: sa.Engine, *groups: tuple[str, list[SpanRow]]) -> None:
    sqlite = engine.dialect.name == "sqlite"
    with engine.begin() as connection:
        write_spans(connection, [make_batch(list(groups), sqlite=sqlite)])


def test_costs_of_a_batch_of_several_projects(engine: sa.Engine) -> None:
    a, b = ("a", rows(1, 9)), ("b", rows(2, 6))
    write(engine, a, b)
    assert stored(engine) == expected(a, b)


def test_a_project_named_twice_in_a_batch(engine: sa.Engine) -> None:
    write(engine, ("a", rows(1, 4)), ("b", rows(2, 4)), ("a", rows(3, 6)))
    assert stored(engine) == expected(("a", rows(1, 4)), ("a", rows(3, 6)), ("b", rows(2, 4)))


def test_costs_when_some_spans_were_stored_already(engine: sa.Engine) -> None:
    """A retried batch: the spans stored before are skipped, the others still get their
    own costs, none twice."""
    first, later = rows(1, 10), rows(2, 10)
    write(engine, ("a", first[3:7]), ("b", later))
    write(engine, ("a", first), ("b", later))
    assert stored(engine) == expected(("a", first), ("b", later))
    with engine.connect() as connection:
        count = connection.execute(sa.select(sa.func.count()).select_from(SpanCost))
        assert count.scalar_one() == 10


def test_costs_when_another_project_has_the_latest_spans(engine: sa.Engine) -> None:
    """Row ids are shared by every project: a batch's offset is taken after its own
    spans went in, whatever was written in between."""
    write(engine, ("a", rows(1, 5)))
    write(engine, ("b", rows(2, 7)), ("a", rows(3, 3)))
    write(engine, ("a", rows(4, 8)))
    assert stored(engine) == expected(
        ("a", rows(1, 5)), ("a", rows(3, 3)), ("a", rows(4, 8)), ("b", rows(2, 7))
    )
