"""Online suites' parts on real traces: the window each run selects (after the last,
settled, sampled), the same sample every time, and the LLM judge's daily cap read from
the day's runs and kept by the judge."""

from __future__ import annotations

import time

import pytest

from evals import frames, online
from evals.runner import execute_run, start_run
from evals.selection import trace_filter
from evals.suite import SuiteError, load_suite
from store import evals as store_evals
from store.known_good import version_key
from store.queries import TraceFilter
from store.times import BadParameter, time_ns
from tests.agent_runs import Run, send_runs
from tests.fake_judge import COMPLETION_TOKENS, PROMPT_TOKENS, FakeJudge
from tests.server import Server

CALL_USD = (PROMPT_TOKENS + COMPLETION_TOKENS) / 1000  # at $1 per 1k tokens either way


def judged_suite(project: str, endpoint: str, cap: float) -> str:
    return f"""
name: online judge
select: {{project: {project}}}
schedule: "0 * * * *"
online: {{settle: 0s, max_judge_usd_per_day: {cap}}}
evaluators:
  - llm_judge:
      endpoint: {endpoint}
      model: judge-1
      rubric: "Is it right?"
      concurrency: 1
      usd_per_1k_input_tokens: 1.0
      usd_per_1k_output_tokens: 1.0
"""


def test_the_judge_stops_at_the_day_s_cap_across_runs(server: Server, project: str) -> None:
    send_runs(server, project, [Run(f"Question {n}?", f"Answer {n}") for n in range(6)])
    with FakeJudge() as judge:
        suite = load_suite(judged_suite(project, judge.endpoint, 2.5 * CALL_USD))
        started = start_run(server.engine, suite)
        budget = online.judge_budget(server.engine, suite, started.suite_id)
        assert budget == pytest.approx(2.5 * CALL_USD)  # nothing spent today yet
        first = execute_run(server.engine, suite, started, judge_budget_usd=budget)
        assert judge.calls == 3  # the third call starts under the cap and passes it
        extra = first.summary["evaluators"]["llm_judge"]["extra"]
        assert extra["judged"] == 3 and extra["over_budget"] == 3
        assert extra["cost_usd"] == pytest.approx(3 * CALL_USD)
        # The day's spend is read back from the run: nothing is left for a second run.
        again = start_run(server.engine, suite)
        assert online.judge_budget(server.engine, suite, again.suite_id) == 0.0
        second = execute_run(server.engine, suite, again, judge_budget_usd=0.0)
        assert judge.calls == 3
    assert second.summary["evaluators"]["llm_judge"]["extra"]["over_budget"] == 6


def test_a_daily_cap_needs_a_priced_judge() -> None:
    with pytest.raises(SuiteError, match="max_judge_usd_per_day"):
        load_suite(
            "name: x\nschedule: '0 * * * *'\nonline: {max_judge_usd_per_day: 1}\n"
            "evaluators: [loops]\n"
        )


def test_windows_follow_one_another_and_the_sample_holds(server: Server, project: str) -> None:
    send_runs(server, project, [Run(f"Q{n}?", f"A{n}") for n in range(40)])
    suite = load_suite(
        f"name: w\nselect: {{project: {project}}}\nschedule: '0 * * * *'\n"
        "online: {settle: 0s, sample_rate: 0.5}\nevaluators: [loops]\n"
    )
    now = time.time_ns()
    first = online.window(suite, None, now)
    assert first is not None and first.selection.start_after_ns is None
    assert first.selection.start_before_ns == now == first.until_ns
    later = online.window(suite, first.until_ns, now + 10**9)
    assert later is not None and later.selection.start_after_ns == now + 1
    with server.engine.connect() as connection:
        everything = frames.selected_ids(connection, trace_filter(suite.select))
        sampled = frames.selected_ids(connection, first.selection)
        again = frames.selected_ids(connection, first.selection)
        nothing_new = frames.selected_ids(connection, later.selection)
    assert len(everything) == 40
    assert 8 <= len(sampled) <= 32 and list(sampled) == list(again)  # the same half
    assert set(sampled) <= set(everything) and len(nothing_new) == 0
    # A settle time keeps traces that just started for a later run.
    settled = load_suite(
        f"name: w\nselect: {{project: {project}}}\nschedule: '0 * * * *'\n"
        "online: {settle: 1d}\nevaluators: [loops]\n"
    )
    window = online.window(settled, None, now)
    assert window is not None
    with server.engine.connect() as connection:
        assert len(frames.selected_ids(connection, window.selection)) == 0


def test_the_mark_only_moves_forward(server: Server, project: str) -> None:
    suite = load_suite(f"name: m\nselect: {{project: {project}}}\nevaluators: [loops]\n")
    started = start_run(server.engine, suite)
    with server.engine.begin() as connection:
        assert store_evals.set_scored_until(connection, started.suite_id, 200, seen=None)
        # A run that started from another mark does not move it, nor one going back.
        assert not store_evals.set_scored_until(connection, started.suite_id, 300, seen=100)
        assert not store_evals.set_scored_until(connection, started.suite_id, 100, seen=200)
        stored = store_evals.stored_suite(connection, started.suite_id)
    assert stored is not None and stored.scored_until_ns == 200
    with server.engine.connect() as connection:
        assert (
            frames.selected_ids(connection, TraceFilter(project=project, sample_rate=0.0)).size == 0
        )


@pytest.mark.parametrize(
    "value", ["99999999999999999999999", "9" * 400 + "d", "\u00b2", "1e400d", "-5"]
)
def test_times_out_of_range_or_not_times_are_refused(value: str) -> None:
    with pytest.raises(BadParameter):
        time_ns("since", value)


def test_a_settle_too_long_to_count_is_refused_as_a_suite_error() -> None:
    with pytest.raises(SuiteError, match="settle"):
        load_suite(
            "name: x\nschedule: '0 * * * *'\nonline: {settle: " + "9" * 400 + "d}\n"
            "evaluators: [loops]\n"
        )


def test_versions_sort_as_numbers_and_odd_digits_as_text() -> None:
    ordered = sorted(["1.10", "1.9", "1.\u00b2", "1.2-rc"], key=version_key)
    assert ordered == ["1.2-rc", "1.9", "1.10", "1.\u00b2"]


def test_an_empty_first_window_never_moves_the_mark_back() -> None:
    suite = load_suite(
        "name: e\nschedule: '* * * * *'\nonline: {settle: 2m}\nevaluators: [loops]\n"
    )
    saved = 10**18
    # The first run comes seconds after the suite was saved: nothing has settled yet.
    early = online.window(suite, None, saved + 5 * 10**9, first_from_ns=saved)
    assert early is not None and early.until_ns == saved - 1
    later = online.window(suite, early.until_ns, saved + 10 * 60 * 10**9)
    assert later is not None and later.selection.start_after_ns == saved
