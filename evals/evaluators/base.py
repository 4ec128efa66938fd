"""What an evaluator is to the runner: options in, one chunk of traces in, scores out.

An evaluator scores whole traces (a chunk never splits one), returns a DataFrame of
score rows (``SCORE_COLUMNS``), and may keep state across chunks for run-level
figures (``finish``). One row per trace carries its verdict for the evaluator's
``metric``: ``passed`` True or False, or None where the check does not apply to that
trace (no dataset item, an unpriced model); the run's pass rate and the thresholds
read those rows. Further metrics (other rows) are details for the pages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import pandas as pd
import sqlalchemy as sa

from evals.frames import Chunk
from store.queries import TraceFilter

SCORE_COLUMNS = (
    "trace_id",
    "span_id",
    "metric",
    "value",
    "label",
    "passed",
    "explanation",
    "details",
)


@dataclass(frozen=True, slots=True)
class RunContext:
    """What an evaluator may need besides its chunks: the database (datasets), the project
    and the run's selection."""

    engine: sa.Engine
    project_id: int
    project: str
    # The run's selection, and "now" for its ages (drift's baseline keeps its filters).
    selection: TraceFilter | None = None
    now_ns: int | None = None
    # What an LLM judge may spend in this run (an online suite's daily cap); None: no cap.
    judge_budget_usd: float | None = None


class Evaluator:
    """Subclasses set ``name`` and ``metric`` and implement :meth:`score` (or
    :meth:`score_async` for evaluators that wait on the network)."""

    name: ClassVar[str]
    metric: ClassVar[str]
    # Span columns beyond frames.SPAN_COLUMNS that score() reads.
    span_columns: ClassVar[frozenset[str]] = frozenset()
    # Whether score() reads the chunk's GenAI log events (chunk.logs).
    reads_logs: ClassVar[bool] = False

    def __init__(self, options: Any) -> None:
        self.options = options

    def setup(self, context: RunContext) -> None:
        """Called once before the first chunk (load a dataset, open a client)."""

    def score(self, chunk: Chunk) -> pd.DataFrame:
        raise NotImplementedError

    async def score_async(self, chunk: Chunk) -> pd.DataFrame:
        return self.score(chunk)

    def finish(self) -> dict[str, Any]:
        """Run-level figures for the summary (percentiles, token totals), after the
        last chunk."""
        return {}


def scores_frame(rows: pd.DataFrame | list[dict[str, Any]] | None = None) -> pd.DataFrame:
    """Score rows with every column of ``SCORE_COLUMNS``, missing ones as None."""
    frame = pd.DataFrame(rows if rows is not None else [])
    for column in SCORE_COLUMNS:
        if column not in frame.columns:
            frame[column] = None
    return frame.loc[:, list(SCORE_COLUMNS)]
