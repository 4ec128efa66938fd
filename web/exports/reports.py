"""The small derived reports as CSV, built with pandas: an eval run's summary, a
suite's runs, the suites, the overview's tables, a comparison of two cohorts, a drift
report.

Each is a few dozen rows computed from figures the pages already hold, so a DataFrame
is the plain way to give it fixed columns; the frame then goes through the one writer
(``csv_writer``) like every long export, cells neutralised on the way.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

import pandas as pd

from evals.comparison import RunComparison
from store.analytics.overview import Group, Overview
from store.eval_reads import SuiteRecord
from store.models import EvalRun
from web import evals_view
from web.compare_view import Comparison, MixLine
from web.exports.csv_writer import csv_chunks, iso, safe_rows

SUMMARY_COLUMNS: tuple[str, ...] = (
    "run_id", "suite", "project", "status", "evaluator", "metric", "passed", "failed",
    "not_applicable", "pass_rate", "mean", "p50", "p95", "values", "thresholds_set",
    "thresholds_held",
)  # fmt: skip
COMPARE_COLUMNS: tuple[str, ...] = (
    "section", "name", "unit", "a", "b", "delta", "relative_change", "verdict",
)  # fmt: skip
RUNS_COLUMNS: tuple[str, ...] = (
    "suite_id", "suite", "run_id", "status", "started_at", "finished_at", "duration_s",
    "selection_size", "thresholds_held", "thresholds_total", "evaluator", "pass_rate",
)  # fmt: skip
SUITES_COLUMNS: tuple[str, ...] = (
    "suite_id", "project", "name", "schedule", "enabled", "next_run_at", "run_count",
    "last_run_id", "last_run_status", "last_run_started_at", "created_at", "updated_at",
)  # fmt: skip
# The overview page's four tables, by ``table=`` (a dict keeps their stable order).
OVERVIEW_COLUMNS: dict[str, tuple[str, ...]] = {
    "groups": (
        "agent", "version", "traces", "error_rate", "escalation_rate", "p50_ms", "p95_ms",
        "tokens_per_trace", "tokens", "cost_usd", "cost_per_trace_usd",
        "cost_per_success_usd", "unpriced_traces",
    ),
    "expensive": (
        "trace_id", "name", "agent", "version", "status", "start_time", "duration_ms",
        "cost_usd", "tokens",
    ),
    "slowest": (
        "trace_id", "name", "agent", "version", "status", "start_time", "duration_ms",
        "cost_usd", "tokens",
    ),
    "tools": ("tool", "calls", "errors", "error_rate"),
}  # fmt: skip
EVAL_COMPARE_COLUMNS: tuple[str, ...] = (
    "run_a", "run_b", "evaluator", "metric", "a_passed", "a_failed", "a_pass_rate",
    "b_passed", "b_failed", "b_pass_rate", "pass_rate_delta", "a_mean", "b_mean",
    "mean_delta", "paired", "regressed", "improved", "kept_passing", "kept_failing",
    "only_a", "only_b",
)  # fmt: skip
DRIFT_COLUMNS: tuple[str, ...] = (
    "metric", "label", "kind", "unit", "baseline_label", "current_label", "baseline_n",
    "current_n", "baseline_mean", "current_mean", "baseline_median", "current_median",
    "baseline_p95", "current_p95", "statistic", "p_value", "psi", "effect_size",
    "median_shift", "divergence", "verdict", "reason",
)  # fmt: skip


def frame_csv(frame: pd.DataFrame, columns: Sequence[str]) -> Iterator[bytes]:
    """The frame's ``columns``, in that order, through the one writer (NaN as empty)."""
    ordered = frame.reindex(columns=list(columns)).astype(object)
    ordered = ordered.where(ordered.notna(), None)
    return csv_chunks(columns, safe_rows(ordered.itertuples(index=False, name=None)))


def run_summary_frame(run: EvalRun, suite: str, project: str) -> pd.DataFrame:
    """One row per evaluator of the run (the suite's order), with its threshold count."""
    checks = pd.DataFrame(evals_view.threshold_checks(run), columns=["evaluator", "held"])
    held = checks.groupby("evaluator")["held"].agg(["count", "sum"])
    figures = evals_view.evaluator_figures(run)
    frame = pd.DataFrame.from_records(
        [{"evaluator": name, **fig} for name, fig in figures.items()],
        columns=["evaluator", *SUMMARY_COLUMNS[5:14]],
    )
    frame = frame.join(held, on="evaluator")
    frame["thresholds_set"] = frame["count"].fillna(0).astype(int)
    frame["thresholds_held"] = frame["sum"].fillna(0).astype(int)
    return frame.assign(run_id=run.id, suite=suite, project=project, status=run.status)


def runs_frame(suite_id: int, suite: str, runs: list[EvalRun]) -> pd.DataFrame:
    """A suite's runs table in long form: one row per run and evaluator (its pass rate),
    so the columns stay the same whichever evaluators the suite had; a run without
    figures (running, or failed to finish) is one row with no evaluator."""
    records = [record for run in runs for record in run_records(suite_id, suite, run)]
    return pd.DataFrame.from_records(records, columns=list(RUNS_COLUMNS))


def run_records(suite_id: int, suite: str, run: EvalRun) -> list[dict[str, Any]]:
    """One run's rows of :data:`RUNS_COLUMNS`."""
    held, total = evals_view.thresholds_held(run)
    head = {
        "suite_id": suite_id, "suite": suite, "run_id": run.id, "status": run.status,
        "started_at": _iso(run.started_at), "finished_at": _iso(run.finished_at),
        "duration_s": evals_view.duration_s(run), "selection_size": run.selection_size,
        "thresholds_held": held, "thresholds_total": total,
    }  # fmt: skip
    rates = evals_view.pass_rates(run) or {None: None}
    return [{**head, "evaluator": name, "pass_rate": rate} for name, rate in rates.items()]


def suites_frame(records: list[SuiteRecord]) -> pd.DataFrame:
    """The evals page's suites table, one row per suite."""
    return pd.DataFrame.from_records([_suite_row(r) for r in records], columns=list(SUITES_COLUMNS))


def _suite_row(r: SuiteRecord) -> dict[str, Any]:
    last = r.last_run
    return {
        "suite_id": r.suite.id, "project": r.project, "name": r.suite.name,
        "schedule": r.suite.schedule, "enabled": r.suite.enabled,
        "next_run_at": _iso(r.suite.next_run_at) if r.suite.enabled else None,
        "run_count": r.run_count, "last_run_id": last.id if last else None,
        "last_run_status": last.status if last else None,
        "last_run_started_at": _iso(last.started_at) if last else None,
        "created_at": _iso(r.suite.created_at), "updated_at": _iso(r.suite.updated_at),
    }  # fmt: skip


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


def overview_frame(data: Overview, table: str) -> pd.DataFrame:
    """One of the overview page's tables (``table``: a key of :data:`OVERVIEW_COLUMNS`)."""
    match table:
        case "groups":
            records = [_group_row(group) for group in data.groups]
        case "expensive" | "slowest":
            rows = data.most_expensive if table == "expensive" else data.slowest
            records = [
                {"trace_id": t.trace_id, "name": t.name, "agent": t.agent, "version": t.version,
                 "status": t.status, "start_time": iso(t.start_time_ns),
                 "duration_ms": t.duration_ms, "cost_usd": t.cost_usd, "tokens": t.tokens}
                for t in rows
            ]  # fmt: skip
        case _:
            records = [
                {"tool": t.name, "calls": t.calls, "errors": t.errors, "error_rate": t.error_rate}
                for t in data.failing_tools
            ]
    return pd.DataFrame.from_records(records, columns=list(OVERVIEW_COLUMNS[table]))


def _group_row(group: Group) -> dict[str, Any]:
    s = group.stats
    return {
        "agent": group.agent, "version": group.version, "traces": s.traces,
        "error_rate": s.error_rate, "escalation_rate": s.escalation_rate, "p50_ms": s.p50_ms,
        "p95_ms": s.p95_ms, "tokens_per_trace": s.tokens_per_trace, "tokens": s.tokens,
        "cost_usd": s.cost, "cost_per_trace_usd": s.cost_per_trace,
        "cost_per_success_usd": s.cost_per_success, "unpriced_traces": s.unpriced,
    }  # fmt: skip


def eval_compare_frame(c: RunComparison) -> pd.DataFrame:
    """The run comparison's Evaluators table: per evaluator, both runs' verdicts and
    means and what moved between them."""
    records = []
    for line in c.metrics:
        record: dict[str, Any] = {
            "run_a": c.a.id, "run_b": c.b.id, "evaluator": line.evaluator,
            "metric": line.metric, "pass_rate_delta": line.pass_rate_delta,
            "mean_delta": line.mean_delta, "paired": line.paired,
            "regressed": line.regressed, "improved": line.improved,
            "kept_passing": line.kept_passing, "kept_failing": line.kept_failing,
            "only_a": line.only_a, "only_b": line.only_b,
        }  # fmt: skip
        for side, figures in (("a", line.a), ("b", line.b)):
            if figures is not None:
                record[f"{side}_passed"] = figures.passed
                record[f"{side}_failed"] = figures.failed
                record[f"{side}_pass_rate"] = figures.pass_rate
                record[f"{side}_mean"] = figures.mean
        records.append(record)
    return pd.DataFrame.from_records(records, columns=list(EVAL_COMPARE_COLUMNS))


def compare_frame(result: Comparison) -> pd.DataFrame:
    """The compare page's tables stacked: its metrics, then tool and model shares of
    calls (B minus A), each row named by its section."""
    metrics = pd.DataFrame.from_records(
        [
            {
                "section": "metric",
                "name": m.label,
                "unit": m.unit,
                "a": m.a,
                "b": m.b,
                "delta": m.delta,
                "relative_change": m.relative,
                "verdict": m.verdict,
            }
            for m in result.metrics
        ]
    )
    mixes = [_mix_frame("tool", result.tools), _mix_frame("model", result.models)]
    return pd.concat([metrics, *mixes], ignore_index=True)


def _mix_frame(section: str, lines: list[MixLine]) -> pd.DataFrame:
    frame = pd.DataFrame.from_records(
        [{"name": line.name, "a": line.a_share, "b": line.b_share} for line in lines],
        columns=["name", "a", "b"],
    )
    frame["delta"] = frame["b"] - frame["a"]
    return frame.assign(section=section, unit="share of calls")


def drift_frame(report: dict[str, Any]) -> pd.DataFrame:
    """One row per metric tested: both cohorts' n (and mean, median, p95 for numbers),
    the test's figures and the verdict."""
    flat = pd.json_normalize(report["metrics"], sep="_")
    flat = flat.rename(columns={"name": "metric"})
    flat["baseline_label"] = report["baseline"]["label"]
    flat["current_label"] = report["current"]["label"]
    return flat
