"""Status, error details and confidence."""

from __future__ import annotations

import pytest

from store.vocabulary import Status
from tests.test_normalize_support import event, run


@pytest.mark.parametrize(
    ("attributes", "expected", "source"),
    [
        (
            {"gen_ai.evaluation.score.value": 0.9, "x.confidence": 0.1},
            0.9,
            "gen_ai.evaluation.score.value",
        ),
        ({"evaluation.score": "0.7"}, 0.7, "evaluation.score"),
        ({"annotation.score": 0.6}, 0.6, "annotation.score"),
        (
            {"evaluations.0.evaluation.name": "x", "evaluations.0.evaluation.score": 0.4},
            0.4,
            "evaluations.<i>.evaluation.score",
        ),
        ({"guard.score": 0.3}, 0.3, "guard.score"),
        ({"evals.score": 0.2}, 0.2, "evals.score"),
        ({"planner.confidence": 0.85}, 0.85, "planner.confidence"),
        ({"confidence": "0.5"}, 0.5, "confidence"),
        ({"a.confidence": "high", "b.confidence": 0.75}, 0.75, "b.confidence"),
    ],
)
def test_confidence_and_its_source(
    attributes: dict[str, object], expected: float, source: str
) -> None:
    result = run(attributes)
    assert (result.confidence, result.confidence_source) == (expected, source)
    assert not any(key.endswith("confidence") for key in result.unmapped)


def test_confidence_from_an_evaluation_event() -> None:
    result = run(
        {},
        events=[event("gen_ai.evaluation.result", **{"gen_ai.evaluation.score.value": 0.66})],
    )
    assert result.confidence == 0.66
    assert result.confidence_source == "gen_ai.evaluation.result:gen_ai.evaluation.score.value"
    assert result.conventions == ["otel_genai"]


def test_no_confidence_is_none() -> None:
    result = run({"confidence": True, "x.confidence": [0.5]})
    assert (result.confidence, result.confidence_source) == (None, None)


def test_error_from_the_otel_status() -> None:
    result = run({"error.type": "TimeoutError"}, status_code=2, status_message="timed out")
    assert (result.status, result.error_type, result.error_message) == (
        Status.ERROR,
        "TimeoutError",
        "timed out",
    )


def test_error_from_an_exception_event() -> None:
    exception = event("exception", **{"exception.type": "ValueError", "exception.message": "bad"})
    result = run({}, events=[exception])
    assert (result.status, result.error_type, result.error_message) == (
        Status.ERROR,
        "ValueError",
        "bad",
    )


def test_error_from_error_type_alone() -> None:
    result = run({"error.type": "_OTHER"})
    assert (result.status, result.error_type, result.unmapped) == (Status.ERROR, "_OTHER", [])


def test_error_from_the_langfuse_level() -> None:
    result = run(
        {"langfuse.observation.level": "ERROR", "langfuse.observation.status_message": "boom"}
    )
    assert (result.status, result.error_message) == (Status.ERROR, "boom")


def test_no_error_details_on_a_span_that_did_not_fail() -> None:
    result = run(
        {"langfuse.observation.level": "WARNING", "langfuse.observation.status_message": "slow"},
        status_code=1,
        status_message="ignored on OK spans",
    )
    assert (result.status, result.error_type, result.error_message) == (Status.OK, None, None)


def test_pydantic_tool_failure_stage_is_the_error_type_of_last_resort() -> None:
    result = run({"pydantic_ai.tool.failure_stage": "validation"}, status_code=2)
    assert result.error_type == "validation"


def test_status_message_beats_the_exception_message() -> None:
    exception = event("exception", **{"exception.type": "E", "exception.message": "inner"})
    result = run({}, events=[exception], status_code=2, status_message="outer")
    assert result.error_message == "outer"
