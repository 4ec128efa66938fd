"""Reading evaluation results off a decoded span, without a server: which labels are
verdicts, and shapes no decoder makes that must never cost the span."""

from __future__ import annotations

from typing import Any

import pytest

from collector.agent_scores_row import passed_from_label
from collector.decoded import Decoded
from collector.pipeline import to_rows
from collector.spans import RawSpan, Scope
from collector.spans import Resource as RawResource

EVENT = "gen_ai.evaluation.result"


@pytest.mark.parametrize(
    ("label", "passed"),
    [
        ("pass", True),
        ("PASSED", True),
        (" true ", True),
        ("Correct", True),
        ("fail", False),
        ("Failed", False),
        ("false", False),
        ("INCORRECT", False),
        ("yes", None),
        ("relevant", None),
        ("passing grade", None),
        ("", None),
        (None, None),
    ],
)
def test_only_a_plain_pass_or_fail_label_is_a_verdict(
    label: str | None, passed: bool | None
) -> None:
    assert passed_from_label(label) is passed


def test_hostile_shapes_never_cost_the_span() -> None:
    """Hand-built spans (the decoders never make these) with evaluations of every wrong
    shape: the span is still a row, and what can be read becomes a score."""
    resource, scope = RawResource({}), Scope()
    odd = RawSpan(
        "ab" * 16,
        "cd" * 8,
        None,
        "chat",
        1,
        10,
        20,
        {
            "evaluations.0.evaluation.name": {"a": 1},  # not a name
            "evaluations.0.evaluation": "flat",
            "evaluations.1.evaluation.name": "kept",
            "evaluations.x.evaluation.name": "not an index",
            "annotations.0.annotation.name": "deep",
            "annotations.0.annotation.metadata." + ".".join("k" * 40): 1,
        },
        resource,
        scope,
        events=["junk", {"name": EVENT, "attributes": "x"}, {"name": EVENT}],
    )
    attributes: Any = ["evaluations.0.evaluation.name"]  # not a dict
    not_a_dict = RawSpan("ab" * 16, "ef" * 8, None, "odd", 1, 10, 20, attributes, resource, scope)
    prepared = to_rows(Decoded(spans=[odd, not_a_dict]), "p", sqlite=False)
    assert prepared.batch.size == 2
    ((project, found),) = prepared.batch.scores
    assert (project, sorted(score.evaluator for score in found)) == ("p", ["deep", "kept"])
