"""Scores as the pages show them: a trace's scores grouped by evaluator (the trace page's
panel and its JSON), and the number formats the eval pages share.

Labels, explanations and details are untrusted text: an evaluator quotes what the
agent wrote, a person typed the feedback, the agent sent its own. They are only ever
text content in the templates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from store.score_read import TraceScore, TraceScores
from web.eval_urls import run_url
from web.templating import EMPTY


@dataclass(frozen=True, slots=True)
class ScoreGroup:
    """One evaluator's scores of the trace: the current ones (the newest of each
    metric, span and source), and those they superseded (earlier runs, changed minds)."""

    evaluator: str
    current: list[TraceScore]
    earlier: list[TraceScore]

    @property
    def passed(self) -> int:
        return sum(score.passed is True for score in self.current)

    @property
    def failed(self) -> int:
        return sum(score.passed is False for score in self.current)


@dataclass(frozen=True, slots=True)
class ScorePanel:
    groups: list[ScoreGroup]
    total: int  # the trace's scores; more than shown when clipped

    @property
    def shown(self) -> int:
        return sum(len(group.current) + len(group.earlier) for group in self.groups)

    @property
    def passed(self) -> int:
        return sum(group.passed for group in self.groups)

    @property
    def failed(self) -> int:
        return sum(group.failed for group in self.groups)


def score_panel(found: TraceScores) -> ScorePanel:
    """Scores by evaluator (they come so ordered, newest first within one): a trace
    scored nightly shows its latest verdicts, with the history folded away."""
    groups: list[ScoreGroup] = []
    seen: set[tuple[str, str, str | None, str]] = set()
    for score in found.scores:
        if not groups or groups[-1].evaluator != score.evaluator:
            groups.append(ScoreGroup(score.evaluator, [], []))
        identity = (score.evaluator, score.metric, score.span_id, score.source)
        group = groups[-1]
        (group.earlier if identity in seen else group.current).append(score)
        seen.add(identity)
    return ScorePanel(groups, found.total)


def score_json(score: TraceScore) -> dict[str, Any]:
    return {
        "evaluator": score.evaluator,
        "metric": score.metric,
        "value": score.value,
        "label": score.label,
        "passed": score.passed,
        "explanation": score.explanation,
        "source": score.source,
        "span_id": score.span_id,
        "run_id": score.run_id,
        "suite": score.suite,
        "run_url": run_url(score.run_id) if score.run_id is not None else None,
        "details": score.details,
        "created_at": score.created_at.isoformat(),
    }


def number(value: float | None) -> str:
    """A score's value as people read it: whole numbers whole, others to 4 digits."""
    if value is None or math.isnan(value):
        return EMPTY
    if value == int(value) and abs(value) < 1e15:
        return f"{int(value):,}"
    return f"{value:.4g}"


def signed(value: float | None) -> str:
    """A difference, with its sign (a true minus sign)."""
    if value is None or math.isnan(value):
        return EMPTY
    shown = number(abs(value))
    return _sign(value, shown) + shown


def points(value: float | None) -> str:
    """A change of a rate, in percentage points."""
    if value is None or math.isnan(value):
        return EMPTY
    shown = f"{100 * abs(value):.1f}"
    return f"{_sign(value, shown)}{shown} pp"


def _sign(value: float, shown: str) -> str:
    if value == 0 or shown.strip("0.,") == "":
        return "\u00b1"
    return "+" if value > 0 else "\u2212"


# What score templates call: formats (the shared ones, |pct and |int, are filters) and
# the run link.
FORMATS = {"number": number, "signed": signed, "points": points, "score_run_url": run_url}
