"""Reading two eval runs side by side: their figures, their verdicts paired, and the tools
the run's traces called (``evals/compare.py`` makes the comparison of them).

A run can hold 100,000 traces times several evaluators, so nothing here loads a run's
scores whole: every function is an aggregate, or reads the few rows a page lists.
Verdicts pair by grouping both runs' verdict rows on their key, one sort of them; a
join of the two runs would need an index on (run, trace) that the scores table does
not have (SQLite would scan one run per row of the other). That sort is the main cost:
two runs of 100,000 traces and 5 verdicts each (1,000,000 verdict rows, 300,000 tool
calls) compared in 38 s of CPU on SQLite and 17 s on PostgreSQL, on a loaded 2-core
VM where ``sum(range(10**8))`` took 10 s (about 1 s on an idle machine). Each listed
key is then read by trace id (``ix_scores_project_id_trace_id``).

A verdict row is one of an evaluator's rows for its verdict metric (``Verdict``); the
caller says which those are (a run's summary knows, the store does not). Pairs are
keyed by the dataset item when the row's details name one (``item_key``: two runs
over different traces of the same dataset), else by the trace.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from store.models import EvalRun, EvalSuite, Project, Score, Span
from store.vocabulary import SpanKind

# A run's evaluator and the metric that carries its verdict (passed True/False/None).
Verdict = tuple[str, str]
FINISHED = ("passed", "failed")  # an ``error`` run stopped part way: no baseline
ITEM_KEY = "item_key"
# Distinct tools read for the attribution table, most called first.
MAX_TOOLS = 1000

PAIR_COLUMNS = ["evaluator", "metric", "item_key", "key", "a_ok", "b_ok", "a_trace", "b_trace"]


@dataclass(frozen=True, slots=True)
class RunHead:
    """A run and what names it: its suite and project."""

    id: int
    suite_id: int
    suite: str
    project_id: int
    project: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    selection_size: int | None
    summary: dict[str, Any] | None
    suite_baseline_id: int | None  # the suite's chosen baseline run, if any


def sort_in_memory(connection: Connection) -> None:
    """Let PostgreSQL sort and hash a comparison in memory, for this transaction only.

    At the default work_mem (4 MB) pairing two 500,000-verdict runs spills its sort to
    disk; at 64 MB it does not, and took 4.5 s instead of 9.9 (on a loaded 2-core VM).
    SQLite sorts in memory already (``temp_store=MEMORY``).
    """
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text("SET LOCAL work_mem = '64MB'"))


def run_head(connection: Connection, run_id: int) -> RunHead | None:
    row = connection.execute(
        sa.select(
            EvalRun.id,
            EvalRun.suite_id,
            EvalSuite.name,
            EvalRun.project_id,
            Project.name,
            EvalRun.status,
            EvalRun.started_at,
            EvalRun.finished_at,
            EvalRun.selection_size,
            EvalRun.summary,
            EvalSuite.baseline_run_id,
        )
        .join(EvalSuite, EvalSuite.id == EvalRun.suite_id)
        .join(Project, Project.id == EvalRun.project_id)
        .where(EvalRun.id == run_id)
    ).one_or_none()
    return RunHead(*row) if row is not None else None


def baseline_of(connection: Connection, run: RunHead) -> int | None:
    """The run to compare ``run`` with by default: its suite's baseline run, else the
    suite's last run that finished (passed or failed) before it. Ids are given at
    start, so a lower id is an earlier run."""
    if run.suite_baseline_id is not None and run.suite_baseline_id != run.id:
        exists = connection.execute(
            sa.select(EvalRun.id).where(EvalRun.id == run.suite_baseline_id)
        ).scalar()
        if exists is not None:
            return int(exists)
    previous = connection.execute(
        sa.select(sa.func.max(EvalRun.id)).where(
            EvalRun.suite_id == run.suite_id,
            EvalRun.id < run.id,
            EvalRun.status.in_(FINISHED),
        )
    ).scalar()
    return int(previous) if previous is not None else None


def run_metrics(connection: Connection, run_id: int) -> pd.DataFrame:
    """The run's evaluators and metrics, with how many rows each and how many carry a
    verdict: for a run with no summary yet (still going, or stopped), whose verdict
    metrics must be found in its rows. One pass over the run's rows."""
    statement = (
        sa.select(
            Score.evaluator,
            Score.metric,
            sa.func.count().label("rows"),
            sa.func.count(Score.passed).label("judged"),
        )
        .where(Score.run_id == run_id)
        .group_by(Score.evaluator, Score.metric)
    )
    columns = ["evaluator", "metric", "rows", "judged"]
    return _integers(pd.DataFrame(connection.execute(statement).all(), columns=columns))


def _is_verdict(verdicts: Sequence[Verdict]) -> sa.ColumnElement[bool]:
    if not verdicts:
        return sa.false()
    return sa.or_(*(sa.and_(Score.evaluator == e, Score.metric == m) for e, m in verdicts))


def _json_text(connection: Connection, key: str) -> sa.ColumnElement[str | None]:
    """A top-level text field of ``scores.details`` (JSONB on PostgreSQL, text on SQLite)."""
    if connection.dialect.name == "postgresql":
        return sa.func.jsonb_extract_path_text(Score.details, key)
    return sa.cast(sa.func.json_extract(Score.details, f"$.{key}"), sa.Text)


def _ok() -> sa.Case[int]:
    """A verdict as 1 (passed), 0 (failed) or NULL (not applicable): aggregable on both
    databases, where MIN(boolean) is not."""
    return sa.case((Score.passed, 1), (sa.not_(Score.passed), 0))


def verdict_figures(
    connection: Connection, run_id: int, verdicts: Sequence[Verdict]
) -> pd.DataFrame:
    """Per verdict of the run: rows, passed, failed, values and their mean. Grouped by
    evaluator alone (each has one verdict metric), so the rows stream out of
    the (run, evaluator) index in order and nothing is sorted."""
    statement = (
        sa.select(
            Score.evaluator,
            sa.func.min(Score.metric).label("metric"),
            sa.func.count().label("rows"),
            sa.func.sum(sa.case((Score.passed, 1), else_=0)).label("passed"),
            sa.func.sum(sa.case((sa.not_(Score.passed), 1), else_=0)).label("failed"),
            sa.func.count(Score.value).label("values"),
            sa.func.avg(Score.value).label("mean"),
        )
        .where(Score.run_id == run_id, _is_verdict(verdicts))
        .group_by(Score.evaluator)
    )
    columns = ["evaluator", "metric", "rows", "passed", "failed", "values", "mean"]
    frame = pd.DataFrame(connection.execute(statement).all(), columns=columns)
    frame["mean"] = frame["mean"].astype("float64")
    return _integers(frame, skip={"mean"})


def _pairs(
    connection: Connection,
    a: int,
    b: int,
    verdicts: Sequence[Verdict],
    *,
    traces: bool,
) -> sa.Subquery:
    """One row per (evaluator, metric, key): each run's verdict (``a_ok``: 1, 0 or NULL
    when not applicable), and whether each run scored the key (``in_a``) or, with
    ``traces``, a trace of the key there (NULL: none) and the item key.

    A key seen on several traces of one run (a dataset item run twice) fails if any of
    them failed (MIN); its trace is the greatest id, for a link. This GROUP BY sorts
    both runs' verdict rows (the comparison's main cost on SQLite), so it keeps to few
    and small aggregates.
    """
    rows = (
        sa.select(
            Score.run_id,
            Score.evaluator,
            Score.metric,
            Score.trace_id,
            _ok().label("ok"),
            _json_text(connection, ITEM_KEY).label("item_key"),
        )
        .where(Score.run_id.in_([a, b]), _is_verdict(verdicts))
        .subquery("verdict_rows")
    )
    by_item = sa.case((rows.c.item_key.is_(None), 0), else_=1)
    key = sa.func.coalesce(rows.c.item_key, rows.c.trace_id)
    columns: list[sa.ColumnElement[Any]] = [rows.c.evaluator, rows.c.metric, key.label("key")]
    for side, run in (("a", a), ("b", b)):
        mine = rows.c.run_id == run
        columns.append(sa.func.min(sa.case((mine, rows.c.ok))).label(f"{side}_ok"))
        if traces:
            columns.append(sa.func.max(sa.case((mine, rows.c.trace_id))).label(f"{side}_trace"))
        else:
            columns.append(sa.func.max(sa.case((mine, 1), else_=0)).label(f"in_{side}"))
    if traces:
        columns.append(sa.func.max(rows.c.item_key).label("item_key"))
    else:
        columns.append(sa.func.max(by_item).label("by_item"))
    return (
        sa.select(*columns)
        .group_by(rows.c.evaluator, rows.c.metric, by_item, key)
        .subquery("pairs")
    )


def pair_counts(
    connection: Connection, a: int, b: int, verdicts: Sequence[Verdict]
) -> pd.DataFrame:
    """Per verdict: keys in each run and in both; keys judged in both (``paired``),
    regressed (passed in ``a``, failed in ``b``), improved, kept passing, kept failing;
    keys that are dataset items."""
    pairs = _pairs(connection, a, b, verdicts, traces=False)

    def count(condition: sa.ColumnElement[bool]) -> sa.Function[Any]:
        return sa.func.sum(sa.case((condition, 1), else_=0))

    statement = sa.select(
        pairs.c.evaluator,
        pairs.c.metric,
        sa.func.sum(pairs.c.in_a).label("in_a"),
        sa.func.sum(pairs.c.in_b).label("in_b"),
        count(sa.and_(pairs.c.in_a == 1, pairs.c.in_b == 1)).label("in_both"),
        count(sa.and_(pairs.c.a_ok.is_not(None), pairs.c.b_ok.is_not(None))).label("paired"),
        count(sa.and_(pairs.c.a_ok == 1, pairs.c.b_ok == 0)).label("regressed"),
        count(sa.and_(pairs.c.a_ok == 0, pairs.c.b_ok == 1)).label("improved"),
        count(sa.and_(pairs.c.a_ok == 1, pairs.c.b_ok == 1)).label("kept_passing"),
        count(sa.and_(pairs.c.a_ok == 0, pairs.c.b_ok == 0)).label("kept_failing"),
        sa.func.sum(pairs.c.by_item).label("items"),
    ).group_by(pairs.c.evaluator, pairs.c.metric)
    columns = [
        "evaluator", "metric", "in_a", "in_b", "in_both", "paired", "regressed", "improved",
        "kept_passing", "kept_failing", "items",
    ]  # fmt: skip
    return _integers(pd.DataFrame(connection.execute(statement).all(), columns=columns))


def changed(
    connection: Connection, a: int, b: int, verdicts: Sequence[Verdict], limit: int
) -> pd.DataFrame:
    """The first ``limit`` keys (by evaluator and key) that regressed (passed in ``a``,
    failed in ``b``) and the first ``limit`` that improved: ``PAIR_COLUMNS`` and
    ``regressed``. Pass only the verdicts that have such keys."""
    pairs = _pairs(connection, a, b, verdicts, traces=True)
    regressed = sa.and_(pairs.c.a_ok == 1, pairs.c.b_ok == 0)
    improved = sa.and_(pairs.c.a_ok == 0, pairs.c.b_ok == 1)
    kind = sa.case((regressed, 1), else_=0)
    ranked = (
        sa.select(
            *(pairs.c[name] for name in PAIR_COLUMNS),
            kind.label("regressed"),
            sa.func.row_number()
            .over(partition_by=kind, order_by=(pairs.c.evaluator, pairs.c.metric, pairs.c.key))
            .label("rank"),
        )
        .where(sa.or_(regressed, improved))
        .subquery("ranked")
    )
    statement = (
        sa.select(*(ranked.c[name] for name in [*PAIR_COLUMNS, "regressed"]))
        .where(ranked.c.rank <= limit)
        .order_by(ranked.c.evaluator, ranked.c.metric, ranked.c.key)
    )
    frame = pd.DataFrame(connection.execute(statement).all(), columns=[*PAIR_COLUMNS, "regressed"])
    frame["regressed"] = frame["regressed"].astype(bool)
    return frame


def _integers(frame: pd.DataFrame, skip: set[str] | None = None) -> pd.DataFrame:
    """Counts as int64 (SUM of nothing is NULL: 0)."""
    for column in frame.columns[2:]:
        if column not in (skip or set()):
            frame[column] = frame[column].fillna(0).astype("int64")
    return frame


def verdict_rows(
    connection: Connection,
    project_ids: Sequence[int],
    run_ids: Sequence[int],
    trace_ids: Sequence[str],
    verdicts: Sequence[Verdict],
) -> pd.DataFrame:
    """The verdict rows of these traces in these runs, whole (details too): what a page
    shows of the few keys it lists. Read by trace id, not by run."""
    columns = [
        "run_id", "trace_id", "evaluator", "metric", "value", "label", "passed",
        "explanation", "details",
    ]  # fmt: skip
    if not trace_ids:
        return pd.DataFrame([], columns=columns)
    statement = sa.select(*(getattr(Score, name) for name in columns)).where(
        Score.project_id.in_(sorted(set(project_ids))),
        Score.trace_id.in_(sorted(set(trace_ids))),
        Score.run_id.in_(list(run_ids)),
        _is_verdict(verdicts),
    )
    return pd.DataFrame(connection.execute(statement).all(), columns=columns)


@dataclass(frozen=True, slots=True)
class ToolCounts:
    """Traces of a run with a verdict (``judged``), those that failed one, and per tool
    the traces that called it and how many of those failed (``tools``)."""

    judged: int
    failed: int
    tools: pd.DataFrame  # tool, traces, failed; most traces first


def tool_counts(connection: Connection, run: RunHead, verdicts: Sequence[Verdict]) -> ToolCounts:
    """A trace fails when any of ``verdicts`` failed on it. Each judged trace is joined
    to its tool calls through ``ix_spans_tool_calls`` (project, trace, tool: covering),
    so no span row is read."""
    judged = (
        sa.select(Score.trace_id, sa.func.min(_ok()).label("ok"))
        .where(Score.run_id == run.id, Score.passed.is_not(None), _is_verdict(verdicts))
        .group_by(Score.trace_id)
        .subquery("judged")
    )
    total, failed = connection.execute(
        sa.select(sa.func.count(), sa.func.sum(1 - judged.c.ok))
    ).one()
    on = sa.and_(
        Span.project_id == run.project_id,
        Span.trace_id == judged.c.trace_id,
        Span.kind == SpanKind.TOOL.value,
    )
    traces = sa.func.count(sa.distinct(Span.trace_id))
    statement = (
        sa.select(
            Span.tool_name,
            traces.label("traces"),
            sa.func.count(sa.distinct(sa.case((judged.c.ok == 0, Span.trace_id)))).label("failed"),
        )
        .select_from(judged)
        .join(Span, on)
        .group_by(Span.tool_name)
        .order_by(traces.desc(), Span.tool_name)
        .limit(MAX_TOOLS)
    )
    tools = pd.DataFrame(connection.execute(statement).all(), columns=["tool", "traces", "failed"])
    tools["traces"] = tools["traces"].astype("int64")
    tools["failed"] = tools["failed"].astype("int64")
    return ToolCounts(int(total or 0), int(failed or 0), tools)


def escalation_counts(
    connection: Connection, run_ids: Sequence[int], verdicts: Sequence[Verdict]
) -> pd.DataFrame:
    """Escalated traces (a failed ``verdicts`` row) by run, step (the row's value) and
    tool (its label)."""
    statement = (
        sa.select(Score.run_id, Score.evaluator, Score.value, Score.label, sa.func.count())
        .where(
            Score.run_id.in_(list(run_ids)),
            _is_verdict(verdicts),
            sa.not_(Score.passed),
        )
        .group_by(Score.run_id, Score.evaluator, Score.value, Score.label)
    )
    columns = ["run_id", "evaluator", "step", "tool", "traces"]
    frame = pd.DataFrame(connection.execute(statement).all(), columns=columns)
    frame["traces"] = frame["traces"].astype("int64")
    frame["step"] = frame["step"].astype("float64")
    return frame
