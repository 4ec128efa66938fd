"""Escalation: whether a run handed over to a person, with which tool, at which step."""

from __future__ import annotations

import sqlite3

import pandas as pd
import pytest

from evals.evaluator_options import EscalationOptions
from evals.evaluators.escalation import Escalation
from evals.evaluators.steps import like_matcher
from store.rollup import ESCALATION_TOOL_PATTERNS
from tests.eval_chunks import make_chunk, span, tool


def score(*traces: list[dict[str, object]], tools: tuple[str, ...] = ()) -> pd.DataFrame:
    return Escalation(EscalationOptions(tools=list(tools))).score(make_chunk(*traces))


def test_an_escalation_is_scored_at_its_step_among_model_and_tool_calls() -> None:
    chunk = make_chunk(
        [
            span("agent"),
            span("llm"),
            span("retrieval"),  # not a step
            tool("lookup_order"),
            span("llm"),
            tool("escalate_to_human", '{"reason": "refund over $500"}'),
            span("llm"),
            tool("handoff_to_agent_desk"),  # a second escalation: the first one counts
        ]
    )
    (row,) = Escalation(EscalationOptions()).score(chunk).itertuples()
    assert (row.metric, row.value, row.passed, row.label) == (
        "escalated",
        4,
        False,
        "escalate_to_human",
    )
    assert row.span_id == chunk.spans["span_id"].iloc[5]
    assert row.explanation == "handed over to a person with escalate_to_human at step 4 of 6"


def test_the_store_patterns_find_every_spelling_of_a_hand_over() -> None:
    names = ["Ask_Human", "request_human_review", "hand-off", "HandoffToDesk", "escalation"]
    scores = score(*([span("agent"), tool(name)] for name in names))
    assert scores["passed"].tolist() == [False] * len(names)
    assert scores["label"].tolist() == names
    assert scores["value"].tolist() == [1] * len(names)


def test_runs_that_do_not_escalate_pass_with_no_step() -> None:
    scores = score(
        [span("agent"), span("llm"), tool("lookup_order"), tool("search_kb")],
        # A model or agent named like a person is no hand-over: only tool calls are.
        [span("agent", name="human_agent"), span("llm", name="human-like")],
        [span("agent")],
    )
    assert scores["passed"].tolist() == [True, True, True]
    assert scores["value"].isna().all() and scores["label"].isna().all()
    assert scores["span_id"].isna().all() and scores["explanation"].isna().all()


def test_tools_named_in_the_options_replace_the_store_patterns() -> None:
    traces = (
        [span("agent"), span("llm"), tool("page_oncall")],
        [span("agent"), tool("escalate_to_human")],
        [span("agent"), tool("Page_Oncall")],
    )
    scores = score(*traces, tools=("page_oncall",))
    assert scores["passed"].tolist() == [False, True, True]
    assert scores["value"].tolist()[0] == 2 and scores["label"].tolist()[0] == "page_oncall"


def test_a_tool_span_without_a_tool_name_is_matched_by_its_span_name() -> None:
    scores = score([span("agent"), span("tool", name="transfer_to_human")])
    assert scores["label"].tolist() == ["transfer_to_human"]


@pytest.mark.parametrize(
    "name",
    [
        "escalate_to_human",
        "hand_off",
        "hand-off",
        "handXoff",
        "handoff",
        "humane",
        "escalat",
        "ESCALATE",
        "lookup_order",
        "hand__off",
        "",
        "%",
        "a\nhuman",
    ],
)
def test_the_patterns_match_as_the_database_matches_them(name: str) -> None:
    """The rollup's ``escalated`` column and this evaluator must agree on every name."""
    matcher = like_matcher(ESCALATION_TOOL_PATTERNS)
    with sqlite3.connect(":memory:") as connection:
        sql = " OR ".join("lower(?) LIKE ?" for _ in ESCALATION_TOOL_PATTERNS)
        values = [value for pattern in ESCALATION_TOOL_PATTERNS for value in (name, pattern)]
        (in_database,) = connection.execute(f"SELECT {sql}", values).fetchone()
    assert bool(matcher.search(name.lower())) == bool(in_database)
