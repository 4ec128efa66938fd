"""Runs for the eval comparison tests: through the real runner, or with scores written
directly for cases the demo cannot produce on demand (a dataset item that regressed, an
escalation at step 3), and what the database says a run's traces did."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
import sqlalchemy as sa

from evals.runner import RunResult, run_suite
from evals.suite import load_suite
from store import evals as store_evals
from store.models import EvalSuite, Project, Score, Span, Trace
from store.projects import ensure_projects

SCRIPT = "<script>window.__xss=1</script>"
IMG = '"><img src=x onerror="window.__xss=1">'


def budget_suite(project: str, name: str, max_steps: int, max_tokens: int = 10**9) -> str:
    return f"""
name: {name}
select: {{project: {project}}}
evaluators:
  - step_budget: {{max_steps: {max_steps}}}
  - cost_budget: {{max_tokens_per_trace: {max_tokens}}}
"""


def run(engine: sa.Engine, suite_yaml: str) -> RunResult:
    """A run of the suite through the real runner."""
    return run_suite(engine, load_suite(suite_yaml))


def scored_run(
    engine: sa.Engine,
    project: str,
    suite: str,
    scores: Sequence[store_evals.NewScore],
    *,
    status: str = "passed",
    summary: dict[str, Any] | None = None,
) -> int:
    """A run of ``suite`` holding exactly ``scores``, finished with ``status``."""
    definition = f"name: {suite}\nselect: {{project: {project}}}\nevaluators: [step_budget]\n"
    with engine.begin() as connection:
        project_id = ensure_projects(connection, [project])[project]
        suite_id = store_evals.save_suite(connection, project, suite, definition, None)
        run_id = store_evals.start_run(connection, suite_id, definition)
        store_evals.add_scores(connection, project_id, scores, run_id=run_id)
        if status != "running":
            store_evals.finish_run(connection, run_id, status, len(scores), summary)
    return run_id


def set_baseline(engine: sa.Engine, run_id: int) -> None:
    with engine.begin() as connection:
        suite_id = connection.execute(
            sa.text("SELECT suite_id FROM eval_runs WHERE id = :id"), {"id": run_id}
        ).scalar_one()
        connection.execute(
            sa.update(EvalSuite).where(EvalSuite.id == suite_id).values(baseline_run_id=run_id)
        )


def trace_ids(engine: sa.Engine, project: str) -> list[str]:
    with engine.connect() as connection:
        return list(
            connection.execute(
                sa.select(Trace.trace_id)
                .join(Project, Project.id == Trace.project_id)
                .where(Project.name == project)
                .order_by(Trace.trace_id)
            ).scalars()
        )


def steps(engine: sa.Engine, project: str) -> pd.Series:
    """Each trace's steps as step_budget counts them (model calls plus tool calls)."""
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(Trace.trace_id, Trace.llm_call_count + Trace.tool_call_count)
            .join(Project, Project.id == Trace.project_id)
            .where(Project.name == project)
        ).all()
    return pd.Series({trace: int(n) for trace, n in rows})


def verdicts(engine: sa.Engine, run_id: int, evaluators: dict[str, str]) -> pd.DataFrame:
    """The run's verdict rows (evaluator -> verdict metric), as stored."""
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(Score.trace_id, Score.evaluator, Score.metric, Score.passed).where(
                Score.run_id == run_id
            )
        ).all()
    frame = pd.DataFrame(rows, columns=["trace_id", "evaluator", "metric", "passed"])
    wanted = [
        evaluators.get(e) == m for e, m in zip(frame["evaluator"], frame["metric"], strict=True)
    ]
    return frame[wanted]


def tools_called(engine: sa.Engine, project: str) -> pd.DataFrame:
    """(trace_id, tool) for every tool span of the project, read from the span rows."""
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(Span.trace_id, Span.tool_name)
            .join(Project, Project.id == Span.project_id)
            .where(Project.name == project, Span.kind == "tool")
        ).all()
    return pd.DataFrame(rows, columns=["trace_id", "tool"]).drop_duplicates()
