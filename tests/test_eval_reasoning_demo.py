"""The reasoning and latency evaluators end to end on demo traffic.

Demo traffic goes through the real server (OTLP, normalizer, store); the real runner
scores it; the verdicts are compared with the generator's ground truth, which it
labels from each run's script, not from the spans. At 300 traces (and at 600 and
1,500), loops, escalation and tool errors agree on every trace (1.000).
"""

from __future__ import annotations

import pandas as pd
import pytest
import sqlalchemy as sa

from evals.runner import RunResult, run_suite
from evals.suite import load_suite
from reasonlens.demo import Feature
from store.models import Project, Score, Trace
from tests.demo_data import Loaded, load_demo
from tests.server import Server

PROJECT = "reasoning"
SUITE = f"""
name: reasoning
select: {{project: {PROJECT}}}
evaluators:
  - loops: {{max_repeats: 1}}
  - tool_recovery
  - escalation
  - confident_but_wrong: {{correctness: status, min_confidence: 0.5}}
  - latency: {{max_ms: 120000, span_max_ms: {{llm: 30000}}}}
thresholds:
  latency: {{max_p50: 60000, max_p95: 1000}}
"""


@pytest.fixture(scope="module")
def demo(server: Server) -> Loaded:
    return load_demo(server, PROJECT, traces=300, seed=5)


@pytest.fixture(scope="module")
def run(server: Server, demo: Loaded) -> RunResult:
    return run_suite(server.engine, load_suite(SUITE), progress=None)


@pytest.fixture(scope="module")
def scores(server: Server, run: RunResult) -> pd.DataFrame:
    with server.engine.connect() as connection:
        rows = connection.execute(
            sa.select(
                Score.trace_id,
                Score.evaluator,
                Score.metric,
                Score.value,
                Score.label,
                Score.passed,
                Score.span_id,
            ).where(Score.run_id == run.run_id)
        ).all()
    return pd.DataFrame(
        rows, columns=["trace_id", "evaluator", "metric", "value", "label", "passed", "span_id"]
    )


def verdicts(scores: pd.DataFrame, evaluator: str) -> pd.DataFrame:
    return scores[scores["evaluator"] == evaluator].set_index("trace_id")


def truth(demo: Loaded, feature: Feature) -> pd.Series:
    return pd.Series({t.trace_id: feature in t.features for t in demo.summary.traces})


def agreement(name: str, predicted: pd.Series, expected: pd.Series) -> float:
    predicted = predicted.reindex(expected.index)
    share = float((predicted == expected).mean())
    print(
        f"{name}: agreement {share:.3f}, {int(expected.sum())} labelled, "
        f"{int(predicted.sum())} found, of {len(expected)}"
    )
    return share


def test_every_trace_gets_one_verdict_from_each_evaluator(
    scores: pd.DataFrame, demo: Loaded
) -> None:
    counts = scores.groupby(["evaluator", "metric"]).size()
    assert counts.to_dict() == {
        ("confident_but_wrong", "confident_but_wrong"): 300,
        ("escalation", "escalated"): 300,
        ("latency", "duration_ms"): 300,
        ("loops", "identical_calls"): 300,
        ("tool_recovery", "recovered"): 300,
    }


def test_loops_agree_with_the_generator(scores: pd.DataFrame, demo: Loaded) -> None:
    loops = verdicts(scores, "loops")
    expected = truth(demo, Feature.LOOP)
    assert expected.sum() > 15
    assert agreement("loops", loops["passed"] == False, expected) >= 0.98  # noqa: E712
    looped = loops[loops["passed"] == False]  # noqa: E712
    assert looped["span_id"].notna().all() and (looped["value"] >= 2).all()


def test_escalations_agree_with_the_generator_and_the_rollup(
    server: Server, scores: pd.DataFrame, demo: Loaded
) -> None:
    escalation = verdicts(scores, "escalation")
    escalated = escalation["passed"] == False  # noqa: E712
    expected = truth(demo, Feature.ESCALATION)
    assert expected.sum() > 30
    assert agreement("escalation", escalated, expected) >= 0.98
    assert set(escalation.loc[escalated, "label"]) == {"escalate_to_human"}
    assert (escalation.loc[escalated, "value"] >= 1).all()
    assert escalation.loc[~escalated, "value"].isna().all()
    with server.engine.connect() as connection:
        rollup = dict(
            connection.execute(
                sa.select(Trace.trace_id, Trace.escalated)
                .join(Project, Project.id == Trace.project_id)
                .where(Project.name == PROJECT)
            ).all()
        )
    assert escalated.to_dict() == {trace_id: bool(rollup[trace_id]) for trace_id in escalated.index}


def test_tool_errors_and_their_recovery_agree_with_the_generator(
    scores: pd.DataFrame, demo: Loaded
) -> None:
    recovery = verdicts(scores, "tool_recovery")
    expected = truth(demo, Feature.TOOL_ERROR)
    assert expected.sum() > 15
    assert agreement("tool errors", recovery["passed"].notna(), expected) >= 0.98
    failed_runs = truth(demo, Feature.FAILED)
    unrecovered = recovery.index[recovery["passed"] == False]  # noqa: E712
    # Unrecovered means the run died of it; a recovered run may still die later (a 429).
    assert len(unrecovered) > 0 and failed_runs[unrecovered].all()
    errored = recovery[recovery["passed"].notna()]
    print(f"tool recovery: {int(errored['passed'].sum())} of {len(errored)} recovered")


def test_confidence_and_latency_on_demo_traffic(scores: pd.DataFrame, run: RunResult) -> None:
    confidence = verdicts(scores, "confident_but_wrong")
    # The demo's agents report a confidence only with an answer, so no failed run has one.
    reported = confidence["value"].notna()
    assert 0.3 < reported.mean() < 0.8
    assert confidence.loc[reported, "passed"].all()
    assert confidence.loc[~reported, "passed"].isna().all()
    latency = run.summary["evaluators"]["latency"]
    extra = latency["extra"]
    assert extra["duration_ms"]["count"] == 300
    assert extra["span_kinds_ms"]["llm"]["p50"] < extra["span_kinds_ms"]["llm"]["p95"]
    assert latency["p50"] == pytest.approx(extra["duration_ms"]["p50"], rel=1e-3)
    checks = {check["check"]: check for check in run.summary["thresholds"]}
    assert checks["max_p50"]["held"] and not checks["max_p95"]["held"]
    assert run.status == "failed"
