"""store/analytics/ and the escalation rollup: windows, figures against the generator's
ground truth, both databases' percentiles, and the 0004 backfill."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

import migrations
from collector.normalize.canonical import Canonical
from collector.rows import span_row
from collector.spans import RawSpan, Resource, Scope
from reasonlens.demo.script import Feature
from store.analytics import compare, figures, overview
from store.analytics.compare import histogram
from store.analytics.figures import Stats, Window, window_between, window_ending_at
from store.batch import make_batch
from store.engine import create_engine
from store.models import Project, Span, Trace
from store.queries import TraceFilter, filter_conditions
from store.vocabulary import SpanKind, Status
from store.write import write_spans
from tests.demo_data import Loaded, load_demo
from tests.otlp import Ids, SpanSpec, post, request
from tests.server import Server

HOUR = 3600 * 1_000_000_000
DAY = 24 * HOUR
DEMO = "analytics-demo"
T0 = int(datetime(2026, 11, 20, 12, tzinfo=UTC).timestamp()) * 1_000_000_000


# Windows and pure figures ----------------------------------------------------------


def test_a_day_of_data_is_24_hourly_buckets_ending_after_the_newest_trace() -> None:
    latest = T0 + 17 * 60 * 1_000_000_000 + 5  # 12:17
    window = window_ending_at(latest, DAY)
    assert window.bucket_ns == HOUR and window.buckets == 24
    assert window.until_ns == T0 + HOUR - 1000  # 12:59:59.999999, inclusive
    assert window.since_ns == T0 + HOUR - DAY
    assert window.since_ns <= latest <= window.until_ns


def test_a_trace_in_the_last_microsecond_of_an_hour_moves_the_window_on() -> None:
    latest = T0 + HOUR - 1
    window = window_ending_at(latest, DAY)
    assert window.since_ns <= latest <= window.until_ns


@pytest.mark.parametrize(
    ("length", "bucket", "buckets"),
    [(HOUR, 5 * 60 * 10**9, 12), (6 * HOUR, 15 * 60 * 10**9, 24), (DAY, HOUR, 24),
     (7 * DAY, 6 * HOUR, 28), (30 * DAY, DAY, 30)],
)  # fmt: skip
def test_each_window_length_gets_a_readable_bucket(length: int, bucket: int, buckets: int) -> None:
    window = window_ending_at(T0, length)
    assert (window.bucket_ns, window.buckets) == (bucket, buckets)


def test_bucket_bounds_tile_the_window() -> None:
    window = window_between(T0, T0 + 5 * HOUR + 17)
    bounds = window.bucket_bounds()
    assert bounds[0][0] == window.since_ns and bounds[-1][1] == window.until_ns
    assert all(high + 1 == low for (_, high), (low, _) in itertools.pairwise(bounds))
    assert len(bounds) == window.buckets <= figures.MAX_BUCKETS


def test_stats_say_unknown_rather_than_zero() -> None:
    empty = Stats()
    assert empty.error_rate is None and empty.cost is None and empty.cost_per_trace is None
    stats = Stats(
        traces=4, errors=1, failures=1, priced=2, cost_usd=1.0, input_tokens=30, output_tokens=10
    )
    assert stats.error_rate == 0.25 and stats.success_rate == 0.75
    assert stats.cost_per_trace == 0.5  # over the two priced traces
    assert stats.cost_per_success == pytest.approx(1 / 3)  # what each success really cost
    assert stats.tokens_per_trace == 10


def test_histograms_share_bins_and_keep_outliers_in_the_last() -> None:
    a = [1.0, 2.0, 3.0, 4.0] * 25
    b = [*[10.0] * 99, 10_000.0]
    bins = histogram(a, b)
    assert bins is not None
    assert sum(bins.a) == pytest.approx(1) and sum(bins.b) == pytest.approx(1)
    assert bins.edges[0] == 0 and len(bins.a) == len(bins.b) == len(bins.edges) - 1
    assert bins.b[-1] > 0  # the 10,000 outlier, past the pooled 99th percentile
    assert histogram([], [float("nan")]) is None


# The escalation rollup --------------------------------------------------------------

ESCALATION_CASES = {
    "escalate_to_human": True,
    "handoff_to_agent_desk": True,
    "Ask_Human_Reviewer": True,
    "lookup_order": False,
    "search_kb": False,
}


def send_agent_trace(
    server: Server,
    project: str,
    ids: Ids,
    start: int,
    *,
    tools: list[str],
    agent: str = "support",
    version: str = "1.0",
    failed_tools: tuple[str, ...] = (),
    cost: float | None = None,
    split: bool = False,
) -> str:
    """An agent root, a model call and ``tools`` as tool calls; ``split`` sends the root
    in a second request, after its children."""
    trace, root = ids.trace(), ids.span()
    model: dict[str, Any] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.response.model": "gpt-4o-2024-08-06",
        "gen_ai.usage.input_tokens": 100,
        "gen_ai.usage.output_tokens": 20,
    }
    if cost is not None:
        model["gen_ai.usage.cost"] = cost
    children = [SpanSpec(trace, ids.span(), "chat gpt-4o", start + 1, start + 10**9, root, model)]
    for index, tool in enumerate(tools):
        children.append(
            SpanSpec(
                trace, ids.span(), f"execute_tool {tool}", start + 2 + index,
                start + 10**9 + index, root,
                {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": tool},
                error="tool failed" if tool in failed_tools else None,
            )
        )  # fmt: skip
    agent_attributes = {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": agent,
        "gen_ai.agent.version": version,
    }
    head = SpanSpec(trace, root, f"invoke_agent {agent}", start, start + 2 * 10**9,
                    attributes=agent_attributes)  # fmt: skip
    batches = [children, [head]] if split else [[head, *children]]
    for batch in batches:
        response = post(server.url, request(batch), project=project)
        assert response.status_code == 200, response.text
    return trace


def escalated(server: Server, project: str) -> dict[str, bool]:
    query = (
        sa.select(Trace.trace_id, Trace.escalated)
        .join(Project, Project.id == Trace.project_id)
        .where(Project.name == project)
    )
    with server.engine.connect() as connection:
        return {trace_id: bool(flag) for trace_id, flag in connection.execute(query)}


def test_a_trace_is_escalated_when_a_tool_call_hands_it_to_a_person(
    server: Server, project: str
) -> None:
    ids = Ids(project)
    sent = {
        send_agent_trace(server, project, ids, T0 + i * 10**10, tools=["lookup_order", tool]): want
        for i, (tool, want) in enumerate(ESCALATION_CASES.items())
    }
    assert escalated(server, project) == sent


def test_escalation_is_kept_whatever_order_the_spans_arrive_in(
    server: Server, project: str
) -> None:
    ids = Ids(project)
    trace = send_agent_trace(server, project, ids, T0, tools=["escalate_to_human"], split=True)
    assert escalated(server, project) == {trace: True}
    # A retried batch of the same spans (recomputed from all of them) changes nothing.
    send_agent_trace(server, project, Ids(project), T0, tools=["escalate_to_human"], split=True)
    assert escalated(server, project) == {trace: True}


# Figures against the demo generator's ground truth -----------------------------------


@pytest.fixture(scope="module")
def demo(server: Server) -> Loaded:
    return load_demo(server, DEMO, traces=300, seed=11)


@pytest.fixture
def session(server: Server) -> Iterator[Session]:
    with Session(server.engine) as opened:
        yield opened


def project_id(session: Session, name: str) -> int:
    return int(session.scalar(sa.select(Project.id).where(Project.name == name)) or 0)


def whole_week(session: Session, pid: int) -> Window:
    """Every demo trace: the generator starts sessions in the day before its anchor, and
    a session's later turns can run past it."""
    latest = overview.latest_start_ns(session, pid)
    assert latest is not None
    return window_ending_at(latest, 7 * DAY)


def test_overview_counts_what_the_generator_made(demo: Loaded, session: Session) -> None:
    pid = project_id(session, DEMO)
    data = overview.overview(session, pid, whole_week(session, pid))
    facts = demo.summary.traces
    assert data.totals.traces == len(facts)
    by_version = {f"{g.agent} {g.version}": g.stats.traces for g in data.groups}
    assert by_version == dict(demo.summary.agents())
    assert data.totals.escalations == demo.summary.count(Feature.ESCALATION)
    escalations = Counter(
        f"{t.agent} {t.version}" for t in facts if Feature.ESCALATION in t.features
    )
    assert {f"{g.agent} {g.version}": g.stats.escalations for g in data.groups} == {
        key: escalations.get(key, 0) for key in by_version
    }
    groups = {(g.agent, g.version): g.stats for g in data.groups}
    drifted, before = groups[("support", "1.5")], groups[("support", "1.4")]
    assert drifted.tokens_per_trace is not None and before.tokens_per_trace is not None
    assert drifted.tokens_per_trace > 1.8 * before.tokens_per_trace  # the demo's 2.4x drift


def test_overview_parts_add_up(demo: Loaded, session: Session) -> None:
    pid = project_id(session, DEMO)
    data = overview.overview(session, pid, whole_week(session, pid))
    for name in ("traces", "errors", "escalations", "input_tokens", "llm_calls", "tool_calls"):
        total = getattr(data.totals, name)
        assert sum(getattr(b, name) for b in data.buckets) == total
        assert sum(getattr(g.stats, name) for g in data.groups) == total
        for group in data.groups:
            assert sum(getattr(b, name) for b in group.buckets) == getattr(group.stats, name)


def test_percentiles_are_percentile_cont_on_both_databases(demo: Loaded, session: Session) -> None:
    pid = project_id(session, DEMO)
    window = whole_week(session, pid)
    data = overview.overview(session, pid, window)
    durations = np.array(
        session.scalars(sa.select(Trace.duration_ns).where(Trace.project_id == pid)).all()
    )
    p50, p95 = np.percentile(durations, [50, 95]) / 1e6
    assert (data.totals.p50_ms, data.totals.p95_ms) == (pytest.approx(p50), pytest.approx(p95))
    for group in data.groups:
        assert group.stats.p50_ms is not None and group.stats.p95_ms is not None
        assert group.stats.p50_ms <= group.stats.p95_ms
    assert all((b.p50_ms is None) == (b.traces == 0) for b in data.buckets)


def test_failing_tools_count_failed_tool_calls(demo: Loaded, session: Session) -> None:
    pid = project_id(session, DEMO)
    data = overview.overview(session, pid, whole_week(session, pid))
    tool_spans = sa.select(Span.tool_name, Span.status).where(
        Span.project_id == pid, Span.kind == "tool"
    )
    calls, errors = Counter[str | None](), Counter[str | None]()
    for name, status in session.execute(tool_spans):
        calls[name] += 1
        errors[name] += status == "error"
    expected = sorted(errors.items(), key=lambda item: (-item[1], item[0] or ""))[:10]
    assert [(t.name, t.errors, t.calls) for t in data.failing_tools] == [
        (name, count, calls[name]) for name, count in expected if count
    ]


def test_an_empty_window_is_all_zeros(demo: Loaded, session: Session) -> None:
    pid = project_id(session, DEMO)
    data = overview.overview(session, pid, window_between(T0 - 400 * DAY, T0 - 399 * DAY))
    assert data.totals.traces == 0 and data.groups == [] and data.slowest == []
    assert data.totals.p50_ms is None and data.failing_tools == []


def test_cohorts_of_two_versions(demo: Loaded, session: Session) -> None:
    by_version = {
        version: compare.cohort(
            session, TraceFilter(project=DEMO, agent="support", agent_version=version)
        )
        for version in ("1.4", "1.5")
    }
    counts = demo.summary.agents()
    for version, cohort in by_version.items():
        assert cohort.stats.traces == counts[f"support {version}"]
        assert len(cohort.values.duration_ms) == cohort.stats.traces
        assert sum(row.calls for row in cohort.tools) == cohort.stats.tool_calls
    tools = {v: {row.name for row in f.tools} for v, f in by_version.items()}
    assert "web_search" in tools["1.5"] and "web_search" not in tools["1.4"]
    models = {v: {row.name for row in f.models} for v, f in by_version.items()}
    assert models["1.4"] and models["1.4"].isdisjoint(models["1.5"])  # 1.5 moved to gpt-4.1


# The 0004 backfill ------------------------------------------------------------------


def test_the_migration_backfills_stored_traces(fresh_db: str) -> None:
    """Traces stored before 0004 get ``escalated`` from their spans when it runs."""
    engine = create_engine(fresh_db)
    migrations.upgrade(engine)
    want: dict[str, bool] = {}
    rows = []
    for index, (tool, flag) in enumerate(ESCALATION_CASES.items()):
        trace_id = f"{index + 1:032x}"
        want[trace_id] = flag
        for number, kind in enumerate((SpanKind.AGENT, SpanKind.TOOL), start=1):
            raw = RawSpan(trace_id, f"{number:016x}", None if number == 1 else f"{1:016x}",
                          tool, 1, T0, T0 + 10**9, {}, Resource({}), Scope())  # fmt: skip
            canonical = Canonical(kind=kind, tool_name=tool if kind is SpanKind.TOOL else None)
            rows.append(span_row(raw, canonical, "{}", "{}"))
    with engine.begin() as connection:
        sqlite = engine.dialect.name == "sqlite"
        write_spans(connection, [make_batch([("p", rows)], sqlite=sqlite)])
        connection.execute(sa.update(Trace).values(escalated=False))  # as stored before 0004
    migrations.downgrade(engine, "0003")
    assert "escalated" not in {c["name"] for c in sa.inspect(engine).get_columns("traces")}
    migrations.upgrade(engine)
    with engine.connect() as connection:
        stored = dict(connection.execute(sa.select(Trace.trace_id, Trace.escalated)).all())
    engine.dispose()
    assert {trace_id: bool(flag) for trace_id, flag in stored.items()} == want


def test_cohorts_without_an_agent_version_add_up_over_the_versions(
    server: Server, demo: Loaded, project: str, session: Session
) -> None:
    """SQLite reads such a cohort one agent version at a time: no trace may be lost,
    not even those that name no agent."""
    ids = Ids(project)
    send_agent_trace(
        server, project, ids, T0, tools=["lookup_order"], failed_tools=("lookup_order",)
    )
    bare = ids.trace()
    spans = [SpanSpec(bare, ids.span(), "cron job", T0 + 5, T0 + 10**9)]
    assert post(server.url, request(spans), project=project).status_code == 200
    for selection in (
        TraceFilter(project=project),
        TraceFilter(project=DEMO, start_after_ns=T0 - 12 * HOUR, start_before_ns=T0),
        TraceFilter(project=DEMO, agent="support"),
        TraceFilter(project=DEMO, status=Status.ERROR),
    ):
        found = compare.cohort(session, selection)
        count = sa.select(sa.func.count()).select_from(Trace).where(*filter_conditions(selection))
        assert found.stats.traces == session.scalar(count) > 0, selection
        assert len(found.values.duration_ms) == found.stats.traces
        assert sum(row.calls for row in found.tools) == found.stats.tool_calls
