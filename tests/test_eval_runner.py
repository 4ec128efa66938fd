"""The batch runner on real traces: chunking, persistence, verdicts, a run that dies."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from evals import evaluator_options as suite_module
from evals import evaluators as registry
from evals.evaluators.base import Evaluator
from evals.frames import Chunk
from evals.runner import RunError, execute_run, run_suite, start_run
from evals.suite import load_suite
from store.models import EvalRun, Project, Score, Trace
from tests.demo_data import load_demo
from tests.server import Server

PROJECT = "runner"
SUITE = f"""
name: budgets
select: {{project: {PROJECT}}}
evaluators:
  - step_budget: {{max_steps: 8}}
  - cost_budget: {{max_tokens_per_trace: 20000}}
thresholds:
  step_budget: {{pass_rate: 0.5}}
"""


@pytest.fixture(scope="module")
def loaded(server: Server) -> Server:
    load_demo(server, PROJECT, traces=120, seed=11)
    return server


def _traces(server: Server) -> pd.DataFrame:
    with server.engine.connect() as connection:
        rows = connection.execute(
            sa.select(
                Trace.trace_id,
                Trace.llm_call_count,
                Trace.tool_call_count,
                Trace.input_tokens,
                Trace.output_tokens,
            )
            .join(Project, Project.id == Trace.project_id)
            .where(Project.name == PROJECT)
        ).all()
    return pd.DataFrame(rows, columns=["trace_id", "llm", "tool", "input", "output"])


def _run(server: Server, run_id: int) -> EvalRun:
    with Session(server.engine) as session:
        return session.get_one(EvalRun, run_id)


def _scores(server: Server, run_id: int) -> pd.DataFrame:
    with server.engine.connect() as connection:
        rows = connection.execute(
            sa.select(
                Score.trace_id, Score.evaluator, Score.metric, Score.value, Score.passed
            ).where(Score.run_id == run_id)
        ).all()
    return pd.DataFrame(rows, columns=["trace_id", "evaluator", "metric", "value", "passed"])


def test_a_run_scores_every_selected_trace_and_keeps_its_verdicts(loaded: Server) -> None:
    result = run_suite(loaded.engine, load_suite(SUITE))
    traces = _traces(loaded)
    scores = _scores(loaded, result.run_id)
    steps = scores[scores["metric"] == "steps"].set_index("trace_id")
    assert len(steps) == len(traces) == 120
    expected_steps = (traces["llm"] + traces["tool"]).set_axis(traces["trace_id"])
    assert (steps["value"].reindex(expected_steps.index) == expected_steps).all()
    assert (steps["passed"] == (steps["value"] <= 8)).all()
    tokens = scores[scores["metric"] == "tokens"].set_index("trace_id")["value"]
    expected_tokens = (traces["input"] + traces["output"]).set_axis(traces["trace_id"])
    assert (tokens.reindex(expected_tokens.index) == expected_tokens).all()

    figures = result.summary["evaluators"]["step_budget"]
    assert figures["passed"] + figures["failed"] == 120
    assert figures["pass_rate"] == pytest.approx(figures["passed"] / 120)
    selection = result.summary["selection"]
    assert selection["traces"] == 120
    # Success as the suite judges it: the traces no evaluator failed.
    failed = set(scores.loc[scores["passed"] == False, "trace_id"])  # noqa: E712
    assert 0 < len(failed) < 120 and selection["passing_traces"] == 120 - len(failed)
    per_passing = selection["cost_usd"] / selection["passing_traces"]  # the demo is priced
    assert selection["cost_per_passing_usd"] == pytest.approx(per_passing)
    held = figures["pass_rate"] >= 0.5
    assert result.summary["thresholds"] == [
        {
            "evaluator": "step_budget",
            "check": "pass_rate",
            "limit": 0.5,
            "actual": figures["pass_rate"],
            "held": held,
        }
    ]
    run = _run(loaded, result.run_id)
    assert run.status == result.status == ("passed" if held else "failed")
    assert run.selection_size == 120 and run.finished_at is not None
    assert run.summary == result.summary
    assert run.definition == SUITE


def test_chunk_size_does_not_change_a_single_score(loaded: Server) -> None:
    suite = load_suite(SUITE)
    whole = run_suite(loaded.engine, suite)
    chunked = execute_run(loaded.engine, suite, start_run(loaded.engine, suite), chunk_traces=7)
    columns = ["trace_id", "evaluator", "metric", "value", "passed"]
    one = _scores(loaded, whole.run_id).sort_values(columns[:3]).reset_index(drop=True)
    other = _scores(loaded, chunked.run_id).sort_values(columns[:3]).reset_index(drop=True)
    pd.testing.assert_frame_equal(one, other)
    assert chunked.summary["evaluators"] == whole.summary["evaluators"]


def test_a_threshold_that_fails_fails_the_run(loaded: Server) -> None:
    strict = SUITE.replace("pass_rate: 0.5", "pass_rate: 1.0").replace(
        "max_steps: 8", "max_steps: 1"
    )
    result = run_suite(loaded.engine, load_suite(strict))
    assert result.status == "failed" and not result.passed
    check = result.summary["thresholds"][0]
    assert check["held"] is False and check["actual"] < 1.0


def test_an_empty_selection_holds_no_pass_rate(loaded: Server) -> None:
    empty = SUITE.replace(f"project: {PROJECT}}}", f"project: {PROJECT}, agent: nobody}}")
    result = run_suite(loaded.engine, load_suite(empty))
    assert result.summary["selection"]["traces"] == 0
    # No verdicts is not a 100% pass rate: the gate fails.
    assert result.summary["thresholds"][0]["actual"] is None
    assert result.status == "failed"


class _Breaks(Evaluator):
    """A fault injected into the second chunk: the run must stop, say why, keep the rest."""

    name = "breaks"
    metric = "broken"

    def __init__(self, options: object) -> None:
        super().__init__(options)
        self.calls = 0

    def score(self, chunk: Chunk) -> pd.DataFrame:
        self.calls += 1
        if self.calls == 2:
            raise ZeroDivisionError("the second chunk")
        return pd.DataFrame(
            {
                "trace_id": chunk.traces["trace_id"],
                "span_id": None,
                "metric": "broken",
                "value": 1.0,
                "label": None,
                "passed": True,
                "explanation": None,
                "details": None,
            }
        )


@pytest.fixture
def breaking_evaluator(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setitem(registry.EVALUATORS, "breaks", f"{__name__}:_Breaks")
    monkeypatch.setitem(suite_module.EVALUATOR_OPTIONS, "breaks", suite_module.NoOptions)
    yield


@pytest.mark.usefixtures("breaking_evaluator")
def test_a_run_that_dies_is_stored_as_an_error_with_its_scores_so_far(loaded: Server) -> None:
    suite = load_suite(f"name: fragile\nselect: {{project: {PROJECT}}}\nevaluators: [breaks]\n")
    started = start_run(loaded.engine, suite)
    with pytest.raises(RunError, match="ZeroDivisionError: the second chunk"):
        execute_run(loaded.engine, suite, started, chunk_traces=50)
    run = _run(loaded, started.run_id)
    assert run.status == "error" and "second chunk" in (run.error or "")
    assert len(_scores(loaded, started.run_id)) == 50


TEXT_SUITE = f"""
name: text
select: {{project: {PROJECT}}}
evaluators: [pii, prompt_injection, loops, {{step_budget: {{max_steps: 8}}}}]
"""


def test_reading_and_writing_in_processes_changes_no_score(loaded: Server) -> None:
    """A large run reads and writes in processes of its own: the chunks (text columns,
    log events) and the scores cross by pickle and must arrive whole."""
    suite = load_suite(TEXT_SUITE)
    runs = [
        execute_run(
            loaded.engine,
            suite,
            start_run(loaded.engine, suite),
            chunk_traces=9,
            processes=processes,
        )
        for processes in (False, True)
    ]
    inline, split = (_scores(loaded, run.run_id) for run in runs)
    assert len(inline) >= 4 * 120
    columns = ["trace_id", "evaluator", "metric"]
    pd.testing.assert_frame_equal(
        inline.sort_values(columns).reset_index(drop=True),
        split.sort_values(columns).reset_index(drop=True),
    )
    assert runs[0].summary["evaluators"] == runs[1].summary["evaluators"]
    assert runs[0].summary["selection"] == runs[1].summary["selection"]


class _ReadsNoSuchColumn(_Breaks):
    name = "reads_nothing"
    span_columns = frozenset({"no_such_column"})


class _WritesBadDetails(_Breaks):
    """Scores whose details cannot be stored as JSON, from the second chunk on."""

    name = "bad_details"

    def score(self, chunk: Chunk) -> pd.DataFrame:
        self.calls += 1
        frame = pd.DataFrame({"trace_id": chunk.traces["trace_id"], "metric": "broken"})
        frame["details"] = [{"kinds": {1, 2}} if self.calls >= 2 else None] * len(frame)
        for column in ("span_id", "value", "label", "passed", "explanation"):
            frame[column] = None
        return frame


@pytest.fixture
def stage_faults(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, cls in (("reads_nothing", _ReadsNoSuchColumn), ("bad_details", _WritesBadDetails)):
        monkeypatch.setitem(registry.EVALUATORS, name, f"{__name__}:{cls.__name__}")
        monkeypatch.setitem(suite_module.EVALUATOR_OPTIONS, name, suite_module.NoOptions)
    yield


@pytest.mark.usefixtures("stage_faults")
@pytest.mark.parametrize("processes", [False, True], ids=["in-line", "processes"])
def test_a_read_that_fails_fails_the_run_with_its_reason(loaded: Server, processes: bool) -> None:
    suite = load_suite(
        f"name: unreadable\nselect: {{project: {PROJECT}}}\nevaluators: [reads_nothing]\n"
    )
    started = start_run(loaded.engine, suite)
    with pytest.raises(RunError, match=r"no span column \['no_such_column'\]"):
        execute_run(loaded.engine, suite, started, chunk_traces=50, processes=processes)
    run = _run(loaded, started.run_id)
    assert run.status == "error" and "no_such_column" in (run.error or "")
    assert _scores(loaded, started.run_id).empty


@pytest.mark.usefixtures("stage_faults")
@pytest.mark.parametrize("processes", [False, True], ids=["in-line", "processes"])
def test_a_write_that_fails_fails_the_run_and_keeps_what_was_written(
    loaded: Server, processes: bool
) -> None:
    suite = load_suite(
        f"name: unwritable\nselect: {{project: {PROJECT}}}\nevaluators: [bad_details]\n"
    )
    started = start_run(loaded.engine, suite)
    with pytest.raises(RunError, match="TypeError"):
        execute_run(loaded.engine, suite, started, chunk_traces=50, processes=processes)
    run = _run(loaded, started.run_id)
    assert run.status == "error" and "TypeError" in (run.error or "")
    assert len(_scores(loaded, started.run_id)) == 50
