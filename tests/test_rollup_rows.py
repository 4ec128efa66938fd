"""The rollups a decode worker works out from a batch's rows (store/rollup_rows.py) are
the ones the SQL rollup (store/rollup.py) computes from the stored spans, whatever the
spans, their order, and how they are split across requests and transactions."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.costing import cost_values, span_cost
from collector.normalize.canonical import Canonical
from collector.rows import span_row
from collector.spans import RawSpan, Resource, Scope
from store.batch import SpanRow, make_batch
from store.models import Project, Trace
from store.rollup import refresh_rollups
from store.rollup_rows import trace_rows
from store.vocabulary import SpanKind, Status
from store.write import write_spans

T0 = 1_700_000_000_000_000_000
# Escalation-like names; "\u017f" (long s) folds to "s" in Unicode, not in SQLite's LIKE.
NAMES = ["search", "Escalate_To_Human", "hand off", "HANDOFF_desk", "ask_HUMAN", "İhuman", "ḫuman",
         "hand\noff", "handXXoff", "e\u017fcalate", None]  # fmt: skip
TEXTS = [None, "a", "b", "Ünïcode", "z\x00z"]

span_specs = st.lists(
    st.fixed_dictionaries(
        {
            "trace": st.integers(0, 2),
            "root": st.booleans(),
            "start": st.integers(0, 3),
            "kind": st.sampled_from(list(SpanKind)),
            "status": st.sampled_from(list(Status)),
            "name": st.sampled_from(NAMES[:-1]),
            "tool": st.sampled_from(NAMES),
            "agent": st.sampled_from(TEXTS),
            "version": st.sampled_from(TEXTS),
            "session": st.sampled_from(TEXTS),
            "trace_name": st.sampled_from(TEXTS),
            "outcome": st.sampled_from([None, "failure", "success", "other"]),
            "tokens": st.one_of(st.none(), st.integers(0, 1000)),
            "cost": st.one_of(st.none(), st.floats(0, 1, allow_nan=False)),
            "input": st.sampled_from(TEXTS),
        }
    ),
    min_size=1,
    max_size=12,
)


def row(number: int, spec: dict[str, Any]) -> SpanRow:
    raw = RawSpan(
        f"{spec['trace'] + 1:032x}", f"{number + 1:016x}", None if spec["root"] else "ff" * 8,
        spec["name"], 1, T0 + spec["start"], T0 + spec["start"] + number, {},
        Resource({"service.name": f"svc-{number}"}), Scope(),
    )  # fmt: skip
    canonical = Canonical(
        kind=spec["kind"], status=spec["status"], model="gpt-4o-mini", tool_name=spec["tool"],
        agent_name=spec["agent"], agent_version=spec["version"], session_id=spec["session"],
        user_id=spec["input"], environment=spec["session"], trace_name=spec["trace_name"],
        outcome=spec["outcome"], input_tokens=spec["tokens"], output_tokens=spec["tokens"],
        cost_usd=spec["cost"], input_text=spec["input"], output_text=spec["name"],
    )  # fmt: skip
    cost = cost_values(canonical, span_cost(canonical, raw.start_time_ns, {}))
    return span_row(raw, canonical, "{}", "{}", cost)


def rollups(engine: sa.Engine, project: str) -> dict[str, tuple[Any, ...]]:
    columns = [c for c in Trace.__table__.columns if c.name not in ("id", "project_id")]
    query = sa.select(*columns).join(Project).where(Project.name == project)
    with engine.connect() as connection:
        return {r.trace_id: tuple(r) for r in connection.execute(query)}


projects = itertools.count()


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    specs=span_specs,
    cuts=st.lists(st.integers(0, 12), max_size=3),
    per_commit=st.integers(1, 3),
    repeat=st.booleans(),
)
def test_batch_rollups_equal_the_sql_rollup(
    engine: sa.Engine, specs: list[dict[str, Any]], cuts: list[int], per_commit: int, repeat: bool
) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("the batch rollups are the SQLite writer's (PostgreSQL recomputes)")
    project = f"p{next(projects)}"
    rows = [row(number, spec) for number, spec in enumerate(specs)]
    bounds = sorted({0, len(rows), *(min(cut, len(rows)) for cut in cuts)})
    requests = [rows[a:b] for a, b in itertools.pairwise(bounds) if b > a][::-1]
    if repeat:  # a retried request, and a request that repeats one of its spans
        requests += [requests[0], requests[-1] + requests[-1][:1]]
    batches = [
        make_batch([(project, part)], sqlite=True, traces=[(project, trace_rows(part))])
        for part in requests
    ]
    for start in range(0, len(batches), per_commit):
        with engine.begin() as connection:
            write_spans(connection, batches[start : start + per_commit])
    written = rollups(engine, project)
    with engine.begin() as connection:
        project_id = connection.scalar(sa.select(Project.id).where(Project.name == project))
        assert project_id is not None
        refresh_rollups(connection, project_id, set(written))
    assert written == rollups(engine, project)


def test_a_project_named_twice_keeps_every_trace_right(engine: sa.Engine) -> None:
    """Rollups of a trace split over two lists of one project: the writer recomputes it."""
    if engine.dialect.name != "sqlite":
        pytest.skip("the batch rollups are the SQLite writer's (PostgreSQL recomputes)")
    spec = dict(trace=0, root=False, start=0, kind=SpanKind.LLM, status=Status.OK, name="a",
                tool=None, agent=None, version=None, session=None, trace_name=None,
                outcome=None, tokens=5, cost=None, input=None)  # fmt: skip
    first = [row(0, spec), row(1, {**spec, "trace": 1})]
    second = [row(2, spec), row(3, {**spec, "trace": 2})]
    groups = [("twice", first), ("twice", second)]
    traces = [("twice", trace_rows(first)), ("twice", trace_rows(second))]
    with engine.begin() as connection:
        write_spans(connection, [make_batch(groups, sqlite=True, traces=traces)])
    with engine.connect() as connection:
        counts = dict(connection.execute(sa.select(Trace.trace_id, Trace.span_count)).all())
    assert counts == {
        f"{1:032x}": 2,
        f"{2:032x}": 1,
        f"{3:032x}": 1,
    }
