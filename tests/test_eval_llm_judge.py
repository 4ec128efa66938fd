"""llm_judge against a loopback OpenAI-compatible fake: replies read in their many forms,
retries, failures that cost one trace its verdict and not the run, a bounded number of
calls in flight, tokens and cost; then a whole suite (expected_output + llm_judge)
through the real runner on traces sent with the SDK to a running server."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from evals.evaluator_options import LlmJudgeOptions
from evals.evaluators.base import RunContext
from evals.evaluators.llm_judge import JudgeUnavailable, LlmJudge
from evals.judging import MAX_OUTPUT_CHARS, read_reply, render
from evals.pipeline import AsyncLane
from evals.runner import run_suite
from evals.suite import SuiteError, load_suite
from store.models import Score
from tests.agent_runs import Run, send_runs
from tests.eval_chunks import make_chunk, span, tool
from tests.fake_judge import (
    COMPLETION_TOKENS,
    MALFORMED,
    NO_CHOICES,
    PROMPT_TOKENS,
    FakeJudge,
    Fault,
)
from tests.server import Server


@pytest.mark.parametrize(
    ("reply", "score", "explanation"),
    [
        ('{"score": 0.8, "explanation": "mostly right"}', 0.8, "mostly right"),
        ('Sure!\n```json\n{"score": 1, "explanation": "ok"}\n```', 1.0, "ok"),
        ('My verdict: {"Score": "4/5", "reasoning": "fine"} as asked', 0.8, "fine"),
        ('{"score": 4, "max_score": 5}', 0.8, None),
        ("Score: 4/5. The answer cites the tool result.", 0.8, None),
        ("I would rate it 3 out of 5.", 0.6, None),
        ("score = 0.25", 0.25, None),
        ("Rating: 90%", 0.9, None),
        ("0.7", 0.7, None),
    ],
)
def test_replies_are_read_in_their_many_forms(
    reply: str, score: float, explanation: str | None
) -> None:
    reading = read_reply(reply)
    assert reading is not None and reading.score == pytest.approx(score)
    if explanation is not None:
        assert reading.explanation == explanation


@pytest.mark.parametrize(
    "reply", ["7", "Score: 8", '{"score": 4}', '{"score": true}', "I cannot tell.", "", "5/3"]
)
def test_replies_without_a_known_scale_are_not_guessed(reply: str) -> None:
    assert read_reply(reply) is None


def test_reading_hostile_replies_stays_quick() -> None:
    began = time.perf_counter()
    for reply in (
        "score" + " " * 50_000,
        "1" * 50_000,
        "{" * 50_000,
        '{"a": ' * 5000,
        "```\n" * 10_000,
        "score: " + "9" * 20_000 + "/",
    ):
        read_reply(reply)
    assert time.perf_counter() - began < 5  # quadratic reading would take minutes


def test_the_prompt_places_trace_text_once_and_clipped() -> None:
    placed = render("Q: {input}\nA: {output}\nTools: {tool_results} {other}", "{output}", "x", [])
    assert placed == "Q: {output}\nA: x\nTools: (none) {other}"  # no second expansion
    appended = render("Grounded?", "q", "a" * (MAX_OUTPUT_CHARS + 50), ["lookup: r1"])
    assert appended.startswith("Grounded?\n\n## Input\nq\n\n## Output\naaa")
    assert appended.endswith("…\n\n## Tool results\n- lookup: r1")


def _judge(fake: FakeJudge, **options: Any) -> LlmJudge:
    judge = LlmJudge(
        LlmJudgeOptions(
            endpoint=fake.endpoint,
            model="judge-1",
            rubric=options.pop("rubric", "Is the answer right?"),
            backoff_s=options.pop("backoff_s", 0.01),
            **options,
        )
    )
    judge.setup(RunContext(sa.create_engine("sqlite://"), 1, "p"))
    return judge


def _run(judge: LlmJudge, *answers: tuple[str, str | None]) -> pd.DataFrame:
    chunk = make_chunk(
        *(
            [span("agent", input_text=q, output_text=a), tool("lookup", result=f"{q} facts")]
            for q, a in answers
        )
    )
    # As the runner runs it: on a loop of its own thread (a browser test's loop may be
    # running in this one).
    lane = AsyncLane()
    try:
        return lane.run(judge.score_async(chunk))
    finally:
        lane.close()


def _scored(reply_for: dict[str, str]) -> Any:
    def reply(prompt: str) -> str:
        return next((text for mark, text in reply_for.items() if mark in prompt), "")

    return reply


def test_scores_pass_and_fail_against_pass_score() -> None:
    reply = _scored({"good": '{"score": 0.9, "explanation": "right"}', "bad": "Score: 1/5"})
    with FakeJudge(reply=reply) as fake:
        scores = _run(_judge(fake, pass_score=0.6), ("good q", "good a"), ("bad q", "bad a"))
        request = fake.requests[0]
    assert scores["metric"].unique().tolist() == ["judge_score"]
    assert scores["value"].tolist() == [0.9, 0.2]
    assert scores["passed"].tolist() == [True, False]
    assert scores["label"].tolist() == ["pass", "fail"]
    assert scores["explanation"].iloc[0] == "right"
    assert request["model"] == "judge-1" and request["temperature"] == 0
    prompt = request["messages"][1]["content"]
    assert "## Tool results\n- lookup: " in prompt and " facts" in prompt


def test_transient_failures_are_retried_honouring_retry_after() -> None:
    with FakeJudge() as fake:
        fake.fail("flaky", Fault(500), Fault(429, retry_after="1"), Fault(503))
        began = time.perf_counter()
        scores = _run(_judge(fake, retries=3), ("flaky q", "a"))
        elapsed = time.perf_counter() - began
        calls = fake.calls
    assert scores["label"].tolist() == ["pass"]
    assert scores["details"].iloc[0]["attempts"] == 4 and calls == 4
    assert elapsed >= 1.0  # the Retry-After: 1 was waited for


def test_a_timeout_is_retried() -> None:
    with FakeJudge() as fake:
        fake.fail("slow", Fault(status=200, delay_s=1.5))
        scores = _run(_judge(fake, retries=1, timeout_s=0.3), ("slow q", "a"))
    assert scores["label"].tolist() == ["pass"]
    assert scores["details"].iloc[0]["attempts"] == 2


def test_exhausted_retries_cost_one_trace_its_verdict_not_the_run() -> None:
    with FakeJudge() as fake:
        fake.fail("doomed", *[Fault(502)] * 3)
        judge = _judge(fake, retries=2)
        scores = _run(judge, ("doomed q", "a"), ("fine q", "a"))
        doomed_calls = fake.calls_with("doomed")
    assert scores["label"].tolist() == ["judge_error", "pass"]
    assert pd.isna(scores["passed"].iloc[0]) and pd.isna(scores["value"].iloc[0])
    assert scores["explanation"].iloc[0] == "the judge call failed: HTTP 502"
    assert doomed_calls == 3
    assert judge.finish()["errors"] == 1


@pytest.mark.parametrize(
    ("fault", "explanation"),
    [
        (MALFORMED, "not a chat completion: '<html>not json</html>'"),
        (NO_CHOICES, "not a chat completion"),
        (Fault(401), "HTTP 401"),
    ],
)
def test_replies_that_no_retry_would_fix_are_not_retried(fault: Fault, explanation: str) -> None:
    with FakeJudge() as fake:
        fake.fail("", fault)
        scores = _run(_judge(fake, retries=3), ("q", "a"))
        calls = fake.calls
    assert scores["label"].tolist() == ["judge_error"]
    assert explanation in scores["explanation"].iloc[0]
    assert calls == 1


def test_an_unreadable_score_is_unparsed_with_the_reply() -> None:
    with FakeJudge(reply=lambda prompt: "Hard to say, it depends.") as fake:
        scores = _run(_judge(fake), ("q", "a"))
    assert scores["label"].tolist() == ["unparsed"]
    assert pd.isna(scores["passed"].iloc[0])
    assert scores["explanation"].iloc[0].endswith("Hard to say, it depends.")


def test_concurrency_is_bounded() -> None:
    with FakeJudge(latency_s=0.1) as fake:
        began = time.perf_counter()
        scores = _run(_judge(fake, concurrency=4), *[(f"q{n}", "a") for n in range(24)])
        elapsed = time.perf_counter() - began
        most = fake.max_in_flight
    assert (scores["label"] == "pass").all()
    assert most == 4
    assert elapsed >= 0.6  # 24 calls of 0.1 s, four at a time


def test_tokens_and_cost_per_score_and_summed() -> None:
    with FakeJudge() as fake:
        judge = _judge(fake, usd_per_1k_input_tokens=0.5, usd_per_1k_output_tokens=2.0)
        scores = _run(judge, ("q1", "a"), ("q2", "a"), ("q3", None))
    cost = (PROMPT_TOKENS * 0.5 + COMPLETION_TOKENS * 2.0) / 1000
    details = scores["details"].iloc[0]
    assert (details["input_tokens"], details["output_tokens"]) == (PROMPT_TOKENS, COMPLETION_TOKENS)
    assert details["cost_usd"] == pytest.approx(cost)
    assert scores["label"].tolist() == ["pass", "pass", "no_output"]
    totals = judge.finish()
    assert totals["input_tokens"] == 2 * PROMPT_TOKENS
    assert totals["output_tokens"] == 2 * COMPLETION_TOKENS
    assert totals["cost_usd"] == pytest.approx(2 * cost)
    assert (totals["calls"], totals["judged"], totals["no_output"]) == (2, 2, 1)
    with FakeJudge() as fake:
        unpriced = _judge(fake)
        _run(unpriced, ("q", "a"))
    assert unpriced.finish()["cost_usd"] is None


def test_the_api_key_comes_from_the_named_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUDGE_KEY_FOR_TEST", "sk-test-123")
    with FakeJudge() as fake:
        _run(_judge(fake, api_key_env="JUDGE_KEY_FOR_TEST"), ("q", "a"))
        assert fake.authorizations == ["Bearer sk-test-123"]
    monkeypatch.delenv("JUDGE_KEY_FOR_TEST")
    with FakeJudge() as fake, pytest.raises(SuiteError, match="JUDGE_KEY_FOR_TEST is not set"):
        _judge(fake, api_key_env="JUDGE_KEY_FOR_TEST")


def test_an_endpoint_that_keeps_failing_stops_the_run() -> None:
    with FakeJudge() as fake:
        fake.fail("", *[Fault(500)] * 100)
        judge = _judge(fake, retries=0, concurrency=2)
        with pytest.raises(JudgeUnavailable, match="20 judge calls in a row failed"):
            _run(judge, *[(f"q{n}", "a") for n in range(40)])
        assert fake.calls < 40


# -- a suite through the real runner --------------------------------------------------------

QUESTIONS = {
    "q1": ("Capital of France?", "Paris"),
    "q2": ("Capital of Italy?", "Rome"),
    "q3": ("Capital of Spain?", "Madrid"),
}


def _judge_reply(prompt: str) -> str:
    output = prompt.split("## Output\n", 1)[1].split("\n\n## Tool results", 1)[0]
    if output in ("Paris", "Rome", "Madrid"):
        return json.dumps({"score": 0.9, "explanation": "correct and grounded"})
    return "Score: 1/5 - wrong city"


def test_a_suite_with_expected_output_and_judge_through_the_runner(
    server: Server, project: str
) -> None:
    items = "\n".join(
        json.dumps({"id": key, "input": question, "expected_output": answer})
        for key, (question, answer) in QUESTIONS.items()
    )
    uploaded = httpx.post(
        f"{server.url}/api/datasets",
        params={"project": project, "name": "capitals"},
        content=items.encode(),
        headers={"Content-Type": "application/x-ndjson"},
    )
    assert uploaded.status_code == 201, uploaded.text
    trace_ids = send_runs(
        server,
        project,
        [
            Run("Capital of France?", "Paris", item_id="q1", tool_result="France: Paris"),
            Run("Capital of Italy?", "Milan", item_id="q2", tool_result="Italy: Rome"),
            Run("Capital of Spain?", "madrid", item_id="q3", item_on="tool"),
            Run("Weather in Oslo?", "Rainy"),
        ],
    )
    with FakeJudge(reply=_judge_reply) as fake:
        suite = load_suite(
            f"""
name: capitals
select: {{project: {project}}}
evaluators:
  - expected_output: {{dataset: capitals, match: normalized}}
  - llm_judge:
      endpoint: {fake.endpoint}
      model: judge-1
      rubric: "Is the answer correct and grounded in the tool results?"
      concurrency: 2
      usd_per_1k_input_tokens: 1.0
      usd_per_1k_output_tokens: 1.0
thresholds:
  expected_output: {{pass_rate: 0.9}}
"""
        )
        result = run_suite(server.engine, suite)
        calls = fake.calls
    assert calls == 4
    figures = result.summary["evaluators"]
    assert (figures["expected_output"]["passed"], figures["expected_output"]["failed"]) == (2, 1)
    assert figures["expected_output"]["not_applicable"] == 1  # the unlinked trace
    assert figures["expected_output"]["extra"]["items_covered"] == 3
    assert (figures["llm_judge"]["passed"], figures["llm_judge"]["failed"]) == (1, 3)
    judge_totals = figures["llm_judge"]["extra"]
    assert judge_totals["input_tokens"] == 4 * PROMPT_TOKENS
    assert judge_totals["cost_usd"] == pytest.approx(4 * (PROMPT_TOKENS + COMPLETION_TOKENS) / 1000)
    assert result.status == "failed"  # 2 of 3 answers right is under the 0.9 threshold

    with Session(server.engine) as session:
        rows = session.execute(
            sa.select(Score.trace_id, Score.evaluator, Score.label, Score.details).where(
                Score.run_id == result.run_id
            )
        ).all()
    labels = {(trace, evaluator): label for trace, evaluator, label, _ in rows}
    assert [labels[(trace, "expected_output")] for trace in trace_ids] == [
        "match", "mismatch", "match", "no_item",
    ]  # fmt: skip
    assert [labels[(trace, "llm_judge")] for trace in trace_ids] == [
        "pass", "fail", "fail", "fail",
    ]  # fmt: skip
    judged = next(d for t, e, _, d in rows if t == trace_ids[0] and e == "llm_judge")
    assert judged["input_tokens"] == PROMPT_TOKENS and judged["cost_usd"] > 0
