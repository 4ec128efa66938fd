"""Whether the agent's task succeeded, when the agent says so.

A trace's status says whether something threw; whether the customer got a refund is
another question, which only the agent can answer. There is no standard attribute
(SEMCONV 6.2), so reasonlens reads its own, ``reasonlens.outcome``, on any span:
``success`` or ``failure`` (a few usual spellings and booleans accepted). The trace's
rollup turns the spans' outcomes into the trace's (``store/rollup.py``), and cost per
success counts it ahead of the status.
"""

from __future__ import annotations

from typing import Any

from collector.normalize.sources import Attr, Field

OUTCOME_KEY = "reasonlens.outcome"
SUCCESS, FAILURE = "success", "failure"
_SPELLINGS = {
    **dict.fromkeys(("success", "succeeded", "successful", "ok", "pass", "passed"), SUCCESS),
    **dict.fromkeys(("failure", "failed", "fail", "error", "unsuccessful"), FAILURE),
}


def as_outcome(value: Any) -> str | None:
    if type(value) is bool:
        return SUCCESS if value else FAILURE
    if type(value) is str:
        return _SPELLINGS.get(value.strip().lower())
    return None


OUTCOME = Field("outcome", (Attr(OUTCOME_KEY, None, as_outcome),))
