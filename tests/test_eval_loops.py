"""Loops: the same tool with the same arguments, again after it succeeded."""

from __future__ import annotations

import pandas as pd

from evals.evaluator_options import LoopsOptions
from evals.evaluators.loops import Loops
from evals.evaluators.steps import canonical_arguments
from evals.frames import (
    LOG_COLUMNS,
    OPTIONAL_SPAN_COLUMNS,
    SPAN_COLUMNS,
    TRACE_COLUMNS,
    Chunk,
)
from tests.eval_chunks import make_chunk, span, tool


def score(*traces: list[dict[str, object]], max_repeats: int = 1) -> pd.DataFrame:
    return Loops(LoopsOptions(max_repeats=max_repeats)).score(make_chunk(*traces))


def test_a_call_repeated_after_it_succeeded_is_a_loop() -> None:
    scores = score(
        [
            span("agent"),
            span("llm"),
            tool("lookup_order", '{"order_id": "NW-1"}'),
            span("llm"),
            tool("lookup_order", '{"order_id": "NW-1"}'),
        ]
    )
    (row,) = scores.itertuples()
    assert (row.metric, row.value, row.passed, row.label) == ("identical_calls", 2, False, "loop")
    assert row.explanation == "lookup_order called 2 times with the same arguments (at most 1)"


def test_the_span_is_the_first_repeat_and_the_worst_call_is_named() -> None:
    chunk = make_chunk(
        [
            span("agent"),
            tool("search_kb", '{"q": "a"}'),
            tool("lookup_order", '{"id": 1}'),
            tool("search_kb", '{"q": "a"}'),
            tool("lookup_order", '{"id": 1}'),
            tool("lookup_order", '{"id": 1}'),
        ]
    )
    (row,) = Loops(LoopsOptions(max_repeats=1)).score(chunk).itertuples()
    lookups = chunk.spans[chunk.spans["tool_name"] == "lookup_order"]["span_id"].tolist()
    assert row.value == 3 and row.span_id == lookups[1]
    assert row.explanation.startswith("lookup_order called 3 times")


def test_arguments_are_compared_as_json_not_as_text() -> None:
    scores = score(
        [
            span("agent"),
            tool("refund", '{"order_id": "NW-1", "amount": 20}'),
            tool("refund", '{ "amount":20,\n  "order_id":"NW-1" }'),
        ]
    )
    assert scores["passed"].tolist() == [False]
    canonical = canonical_arguments(pd.Series(['{"b": [1, {"d": 1, "c": 2}], "a": "é"}', None]))
    assert canonical.tolist() == ['{"a":"é","b":[1,{"c":2,"d":1}]}', ""]


def test_other_arguments_other_tools_and_retries_after_errors_are_not_loops() -> None:
    scores = score(
        [
            span("agent"),
            tool("lookup_order", '{"order_id": "NW-1"}'),
            tool("lookup_order", '{"order_id": "NW-2"}'),
            tool("get_customer", '{"order_id": "NW-1"}'),
        ],
        # A failed call retried with the same arguments: recovery, not a loop.
        [
            span("agent"),
            tool("lookup_order", '{"order_id": "NW-1"}', status="error"),
            tool("lookup_order", '{"order_id": "NW-1"}'),
        ],
        [span("agent"), span("llm")],
    )
    assert scores["passed"].tolist() == [True, True, True]
    assert scores["value"].tolist() == [1, 1, 0]
    assert scores["label"].tolist() == ["no_loop"] * 3
    assert scores["span_id"].isna().all() and scores["explanation"].isna().all()


def test_max_repeats_counts_identical_calls_in_the_whole_trace_not_in_a_row() -> None:
    # lookup(A) three times, each time after another call: not in a row, still a loop.
    trace = [span("agent")]
    for query in ("x", "y", "z"):
        trace += [tool("lookup_order", '{"id": "A"}'), tool("search_kb", f'{{"q": "{query}"}}')]
    assert score(trace, max_repeats=2)["passed"].tolist() == [False]
    assert score(trace, max_repeats=3)["passed"].tolist() == [True]
    assert score(trace, max_repeats=3)["value"].tolist() == [3]


def test_text_that_is_not_json_and_hostile_json_compare_as_text() -> None:
    deep = "[" * 100_000 + "]" * 100_000
    huge = "1" * 10_000
    scores = score(
        [span("agent"), tool("shell", "ls -la"), tool("shell", "ls -la ")],
        [span("agent"), tool("parse", deep), tool("parse", deep), tool("parse", huge)],
        [span("agent"), tool("t", None), tool("t", None)],
    )
    assert scores["value"].tolist() == [2, 2, 2]
    assert scores["passed"].tolist() == [False, False, False]


def test_a_tool_span_without_a_tool_name_is_named_by_its_span() -> None:
    call = span("tool", name="execute_tool lookup", tool_arguments='{"a": 1}')
    scores = score([span("agent"), call, dict(call)])
    assert scores["explanation"].tolist() == [
        "execute_tool lookup called 2 times with the same arguments (at most 1)"
    ]


def test_an_empty_chunk_scores_nothing() -> None:
    # As frames reads a chunk whose traces were deleted meanwhile: columns, no rows.
    columns = [*SPAN_COLUMNS, *OPTIONAL_SPAN_COLUMNS]
    chunk = Chunk(
        0,
        pd.DataFrame(columns=list(TRACE_COLUMNS)),
        pd.DataFrame(columns=columns),
        pd.DataFrame(columns=list(LOG_COLUMNS)),
    )
    assert Loops(LoopsOptions()).score(chunk).empty
