"""NUL characters out of a batch, for PostgreSQL: it stores U+0000 neither in text nor
as a ``\\u0000`` escape in JSONB. The writer tries this only after PostgreSQL refused a
batch (``collector/writer.py``), so the common path pays nothing."""

from __future__ import annotations

import re
from dataclasses import replace
from functools import cache
from typing import Any

import sqlalchemy as sa

from store.batch import AgentScore, LogBatch, SpanBatch
from store.models import LogRecord, Span
from store.types import JSONText

spans = Span.__table__
log_records = LogRecord.__table__

# PostgreSQL cannot store U+0000: not in text, nor as a \u0000 escape in JSONB. Only
# a JSON escape preceded by an even number of backslashes is one (an odd number means
# the backslash itself was escaped).
_JSON_NUL = re.compile(r"(?<!\\)((?:\\\\)*)\\u0000")
_REPLACEMENT = "\ufffd"


def without_nul(batch: SpanBatch | LogBatch) -> SpanBatch | LogBatch:
    """The batch with every NUL character replaced by U+FFFD, for PostgreSQL.

    Tried only after PostgreSQL refused a batch (so the common path pays nothing):
    replacing keeps the rest of the span, where refusing it would lose it all.
    """
    table = spans if isinstance(batch, SpanBatch) else log_records
    json_columns = _json_positions(table)
    groups = [
        (
            project,
            [
                tuple(_clean(value, i in json_columns) for i, value in enumerate(row))
                for row in rows
            ],
        )
        for project, rows in batch.groups
    ]
    cleaned = [
        (project, [_clean_score(score) for score in found]) for project, found in batch.scores
    ]
    # replace(), not a new batch: the costs and prices travel on unchanged (no client text).
    return replace(batch, groups=groups, scores=cleaned)


def _clean_score(score: AgentScore) -> AgentScore:
    return replace(
        score,
        evaluator=_clean(score.evaluator, False),
        metric=_clean(score.metric, False),
        label=_clean(score.label, False),
        explanation=_clean(score.explanation, False),
        details=_clean_json(score.details),
    )


def _clean_json(value: Any) -> Any:
    """A JSON-ready value with NUL replaced in every string, keys included."""
    if type(value) is str:
        return value.replace("\x00", _REPLACEMENT)
    if type(value) is dict:
        return {_clean_json(key): _clean_json(item) for key, item in value.items()}
    if type(value) is list:
        return [_clean_json(item) for item in value]
    return value


def _clean(value: Any, json: bool) -> Any:
    if type(value) is not str:
        return value
    if json:
        value = _JSON_NUL.sub(lambda match: match.group(1) + "\\ufffd", value)
    return value.replace("\x00", _REPLACEMENT)


@cache
def _json_positions(table: sa.Table) -> frozenset[int]:
    """Positions of the JSON columns in a batch row (the table's columns minus id and
    project_id, in order)."""
    names = [c.name for c in table.columns if c.name not in ("id", "project_id")]
    return frozenset(
        position for position, name in enumerate(names) if isinstance(table.c[name].type, JSONText)
    )
