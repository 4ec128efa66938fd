"""Migrations: linear, reversible, equal to the models, and the indexes the queries need."""

from __future__ import annotations

import random
import subprocess
import sys
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.orm import Session

import migrations
from collector.costing import cost_values, span_cost
from collector.normalize.canonical import Canonical
from collector.rows import span_row
from collector.spans import RawSpan, Resource, Scope
from store.analytics import compare, figures, overview, tools
from store.batch import SpanRow, make_batch
from store.engine import create_engine
from store.exports import IdRange, SpanFilter, span_range_query
from store.models import Base, Project, Span, Trace
from store.queries import SortKey, TraceFilter, filter_choices, filter_conditions, traces_query
from store.vocabulary import SpanKind, Status
from store.write import write_spans
from tests.databases import fresh_database
from web.exports import span_rows


def test_history_is_linear() -> None:
    script = ScriptDirectory(str(migrations.SCRIPT_LOCATION))
    assert len(script.get_heads()) == 1
    for revision in script.walk_revisions():
        assert not isinstance(revision.down_revision, tuple | list), revision.revision


def test_upgrade_and_downgrade_every_revision(fresh_db: str) -> None:
    engine = create_engine(fresh_db)
    script = ScriptDirectory(str(migrations.SCRIPT_LOCATION))
    revisions = list(reversed(list(script.walk_revisions())))
    for revision in revisions:
        migrations.upgrade(engine, revision.revision)
        migrations.downgrade(engine, revision.down_revision or "base")
        migrations.upgrade(engine, revision.revision)
        assert migrations.current_revision(engine) == revision.revision
    migrations.downgrade(engine, "base")
    assert sa.inspect(engine).get_table_names() == ["alembic_version"]
    engine.dispose()


# Indexes on expressions cannot be reflected, so autogenerate cannot compare them;
# test_filters_use_their_index shows they exist and serve their queries.
EXPRESSION_INDEXES = {"ix_traces_project_id_cost_sort", "ix_traces_project_id_tokens_sort"}


def _comparable(obj: object, name: str | None, type_: str, *_: object) -> bool:
    return not (type_ == "index" and name in EXPRESSION_INDEXES)


def test_migrated_schema_equals_the_models(fresh_db: str) -> None:
    engine = create_engine(fresh_db)
    migrations.upgrade(engine)
    with engine.connect() as connection, warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based")
        warnings.filterwarnings("ignore", "autogenerate skipping metadata-specified expression")
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_object": _comparable}
        )
        assert compare_metadata(context, Base.metadata) == []
    engine.dispose()


def test_cli_db_upgrade(fresh_db: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "reasonlens", "db", "upgrade", "--db", fresh_db],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert f"database at revision {migrations.head_revision()}" in result.stdout


WALK = "ix_traces_project_time_filters"
QUERIES = {
    "project": (TraceFilter(project="p1"), WALK),
    # The analytics index (revision 0004) leads with the agent filter's columns; the
    # time walk's index (0017) holds them, so a trace of another agent costs no row.
    "agent+version": (
        TraceFilter(project="p1", agent="agent-3", agent_version="v2"),
        ("ix_traces_analytics", WALK),
    ),
    # Ranges the planner cannot estimate: the walk checks them in its index, never a
    # sort of every trace in the range.
    "cost range": (TraceFilter(project="p1", min_cost_usd=0.0, max_cost_usd=0.9), WALK),
    "duration range": (TraceFilter(project="p1", min_duration_ns=1_000_000), WALK),
    "status": (TraceFilter(project="p1", status=Status.ERROR), "ix_traces_project_id_status"),
    "session": (TraceFilter(project="p1", session_id="s-17"), "ix_traces_project_id_session_id"),
    "service": (TraceFilter(project="p1", service="svc-2"), "ix_traces_project_id_service_name"),
    "all projects": (TraceFilter(), "ix_traces_start_time_ns"),
}
SORTED_QUERIES = {
    "cost sort": (TraceFilter(project="p1"), SortKey.COST, "ix_traces_project_id_cost_sort"),
    "cost range": (
        TraceFilter(project="p1", min_cost_usd=0.5, max_cost_usd=0.6),
        SortKey.COST,
        "ix_traces_project_id_cost_sort",
    ),
    "duration sort": (
        TraceFilter(project="p1"),
        SortKey.DURATION,
        "ix_traces_project_id_duration_ns",
    ),
    "tokens sort": (TraceFilter(project="p1"), SortKey.TOKENS, "ix_traces_project_id_tokens_sort"),
    "spans sort": (TraceFilter(project="p1"), SortKey.SPANS, "ix_traces_project_id_span_count"),
}
SPAN_KEY = "uq_spans_project_id_trace_id_span_id"


def load_realistic_store(engine: sa.Engine, traces: int = 3000) -> None:
    """Enough rows, spread like production, for the planners' choices to mean something."""
    rng = random.Random(3)
    groups: dict[str, list[SpanRow]] = {}
    for i in range(traces):
        resource = Resource({"service.name": f"svc-{i % 5}"})
        trace_id = f"{i:032x}"
        start = 1_700_000_000_000_000_000 + i * 1_000_000_000
        for j, kind in enumerate((SpanKind.AGENT, SpanKind.LLM, SpanKind.TOOL)):
            raw = RawSpan(
                trace_id,
                f"{j + 1:016x}",
                None if j == 0 else f"{1:016x}",
                "s",
                1,
                start + j,
                start + j + rng.randrange(1, 10_000_000_000),
                {},
                resource,
                Scope(),
            )
            canonical = Canonical(
                kind=kind,
                model=f"model-{rng.randrange(8)}" if kind is SpanKind.LLM else None,
                cost_usd=rng.uniform(0, 1) if kind is SpanKind.LLM else None,
                agent_name=f"agent-{i % 10}",
                agent_version=f"v{i % 3}",
                session_id=f"s-{rng.randrange(600)}",
                status=Status.ERROR if rng.random() < 0.1 else Status.OK,
            )
            cost = cost_values(canonical, span_cost(canonical, raw.start_time_ns, {}))
            groups.setdefault(f"p{i % 4}", []).append(span_row(raw, canonical, "{}", "{}", cost))
    with engine.begin() as connection:
        sqlite = engine.dialect.name == "sqlite"
        batch = make_batch(list(groups.items()), sqlite=sqlite)
        write_spans(connection, [batch])
        connection.exec_driver_sql("ANALYZE")


@pytest.fixture(scope="module")
def planned_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sa.Engine]:
    with fresh_database(tmp_path_factory.mktemp("plans")) as url:
        engine = create_engine(url)
        migrations.upgrade(engine)
        load_realistic_store(engine)
        yield engine
        engine.dispose()


def query_plan(engine: sa.Engine, statement: sa.Executable, *, force_index: bool = False) -> str:
    """The plan; ``force_index`` shows whether an index *can* serve on a small table."""
    # render_postcompile: IN lists as plain parameters, which EXPLAIN can be given.
    compiled = statement.compile(engine, compile_kwargs={"render_postcompile": True})
    with engine.connect() as connection:
        if force_index and engine.dialect.name == "postgresql":
            connection.exec_driver_sql("SET enable_seqscan = off")
            connection.exec_driver_sql("SET enable_bitmapscan = off")
        if engine.dialect.name == "sqlite":
            params = tuple(compiled.params[name] for name in compiled.positiontup or ())
            rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", params)
            return "\n".join(str(row[-1]) for row in rows)
        rows = connection.exec_driver_sql(f"EXPLAIN {compiled}", compiled.params)
        return "\n".join(str(row[0]) for row in rows)


@pytest.mark.parametrize("name", list(QUERIES))
def test_filters_use_their_index(planned_db: sa.Engine, name: str) -> None:
    trace_filter, indexes = QUERIES[name]
    plan = query_plan(planned_db, traces_query(trace_filter, sort=SortKey.START_TIME))
    indexes = (indexes,) if isinstance(indexes, str) else indexes
    assert any(index in plan for index in indexes), plan
    if name.endswith("range") and planned_db.dialect.name == "sqlite":
        assert "TEMP B-TREE" not in plan, plan


@pytest.mark.parametrize("name", list(SORTED_QUERIES))
def test_sorts_use_their_index(planned_db: sa.Engine, name: str) -> None:
    trace_filter, sort, index = SORTED_QUERIES[name]
    # On PostgreSQL 750 traces a project are cheaper to sort than to walk in order: there
    # the plan shows that the index can serve the order.
    plan = query_plan(planned_db, traces_query(trace_filter, sort=sort), force_index=True)
    assert index in plan, plan


def test_model_filter_reads_spans_by_index(planned_db: sa.Engine) -> None:
    # On PostgreSQL a 9,000-span table is cheaper to scan; the benchmark checks the
    # plan at 1,000,000 spans. Here: the partial model index can serve the filter.
    statement = traces_query(TraceFilter(project="p1", model="model-3"))
    plan = query_plan(planned_db, statement, force_index=True)
    model_indexes = ("ix_spans_project_id_model", "ix_spans_model_calls", SPAN_KEY)
    assert any(index in plan for index in model_indexes), plan
    assert "SCAN spans" not in plan and "Seq Scan on spans" not in plan, plan


def test_trace_detail_uses_the_span_key(planned_db: sa.Engine) -> None:
    statement = sa.select(Span).where(Span.project_id == 1, Span.trace_id == "ab" * 16)
    assert SPAN_KEY in query_plan(planned_db, statement)


def _analytics_statements() -> dict[str, tuple[sa.Executable, str]]:
    """The dashboard's aggregates (store/analytics/) and the index each must read."""
    window = figures.window_between(1_700_000_000_000_000_000, 1_700_000_100_000_000_000)
    group = overview._group_conditions(1, "agent-3", "v0", window)
    cohort = filter_conditions(TraceFilter(project="p1", agent="agent-3", agent_version="v0"))
    bounds = {f"{edge}_{i}": value for i, pair in enumerate(window.bucket_bounds())
              for edge, value in zip(("low", "high"), pair, strict=True)}  # fmt: skip
    union = overview._bucket_union(window.buckets, True, True).params(
        project_id=1, agent="agent-3", version="v0", **bounds
    )
    return {
        "buckets of an agent version": (union, "ix_traces_analytics"),
        "durations of an agent version": (
            sa.select(overview._bucket_index(window), Trace.duration_ns).where(*group),
            "ix_traces_analytics",
        ),
        "agent versions": (
            sa.select(Trace.agent_name, Trace.agent_version)
            .where(Trace.project_id == 1)
            .distinct(),
            "ix_traces_analytics",
        ),
        "tool mix": (compare._mix_query(cohort, Span.tool_name, compare._TOOL_CALLS),
                     "ix_spans_tool_calls"),
        "model mix": (compare._mix_query(cohort, Span.model, compare._MODEL_CALLS),
                      "ix_spans_model_calls"),
        "failed tool calls": (tools.failed_calls_query(1, window, 10),
                              "ix_spans_failed_tool_calls"),
        "calls of failing tools": (tools.tool_calls_query(1, window, ["a", "b", None]),
                                   "ix_spans_tool_name_start_time_ns"),
    }  # fmt: skip


@pytest.mark.parametrize("name", list(_analytics_statements()))
def test_analytics_read_only_their_indexes(planned_db: sa.Engine, name: str) -> None:
    """Each aggregate reads its index and never a table's rows (SQLite: COVERING)."""
    statement, index = _analytics_statements()[name]
    if name == "agent versions" and planned_db.dialect.name != "sqlite":
        pytest.skip(
            "PostgreSQL hash-aggregates the window instead (store.analytics.overview._slices)"
        )
    plan = query_plan(planned_db, statement, force_index=True)
    assert index in plan, plan
    if planned_db.dialect.name == "sqlite":
        assert f"COVERING INDEX {index}" in plan, plan
    assert "SCAN spans" not in plan and "Seq Scan on spans" not in plan, plan


def test_the_traces_page_choices_read_indexes_not_tables(fresh_db: str) -> None:
    """The /traces form's suggestions are a loose index scan: one seek per value, never a scan."""
    engine = create_engine(fresh_db)
    try:
        migrations.upgrade(engine)
        load_realistic_store(engine, traces=400)
        captured: list[sa.Executable] = []
        with Session(engine) as session:
            project_id = session.scalar(sa.select(Project.id).where(Project.name == "p1"))
            assert project_id is not None
            original = Session.scalars

            def spy(self: Session, statement: Any, *args: Any, **kwargs: Any) -> Any:
                captured.append(statement)
                return original(self, statement, *args, **kwargs)

            with pytest.MonkeyPatch.context() as patch:
                patch.setattr(Session, "scalars", spy)
                choices = filter_choices(session, project_id)
        assert choices.agents == sorted({f"agent-{i % 10}" for i in range(1, 400, 4)})
        assert choices.models == [f"model-{i}" for i in range(8)]
        for statement in captured:
            plan = query_plan(engine, statement, force_index=True)
            assert "SCAN traces" not in plan and "SCAN spans" not in plan, plan
            assert "Seq Scan" not in plan, plan
    finally:
        engine.dispose()


@pytest.mark.parametrize("selection", [SpanFilter(), SpanFilter(project="p1", kind="llm")])
def test_the_spans_export_seeks_by_row_id(planned_db: sa.Engine, selection: SpanFilter) -> None:
    """Each range of /api/spans.csv is a range of row ids: were it sorted, a 1,000,000-span
    export would sort the store once per 5,000 rows."""
    statement = span_range_query(selection, span_rows.SELECTED, IdRange(100, 5100))
    plan = query_plan(planned_db, statement, force_index=True)
    assert "TEMP B-TREE" not in plan and "Sort" not in plan, plan
    by_id = ("INTEGER PRIMARY KEY (rowid>? AND rowid<?)", "pk_spans", "ix_spans_project_id_id")
    assert any(index in plan for index in by_id), plan
