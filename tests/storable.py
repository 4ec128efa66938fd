"""Would the store take a batch? Each value checked against its column as PostgreSQL
checks it: SMALLINT, INTEGER and BIGINT ranges, VARCHAR(n), valid UTF-8 text, JSON
text, and the indexed identifiers' length (a B-tree entry holds ~2.7 kB).

The in-process fuzz tests run no database; this is what lets them catch a row that
only PostgreSQL would refuse (as a 500, before the limits).
"""

from __future__ import annotations

import math
from typing import Any

import orjson
import sqlalchemy as sa

from store.batch import COST_COLUMNS, LogBatch, SpanBatch
from store.models import LogRecord, Span, SpanCost
from store.types import JSONText

_INT_RANGES = {sa.SmallInteger: 1 << 15, sa.Integer: 1 << 31, sa.BigInteger: 1 << 63}
# Span columns in an index of spans or, through the rollup, of traces.
INDEXED = frozenset({"model", "tool_name", "agent_name", "agent_version", "session_id",
                     "service_name"})  # fmt: skip
# PostgreSQL's B-tree entry holds at most 2,704 bytes, and one index of traces holds two
# of these (agent name and version) besides a dozen small columns.
_INDEXED_MAX_BYTES = 1100


def problems(batch: SpanBatch | LogBatch) -> list[str]:
    """What the store would refuse in ``batch`` (packed for PostgreSQL: ``sqlite=False``)."""
    found: list[str] = []
    if isinstance(batch, SpanBatch):
        assert batch.sqlite is None, "check batches packed as tuples"
        span_columns = [c for c in Span.__table__.columns if c.name not in ("id", "project_id")]
        for _, rows in batch.groups:
            for row in rows:
                found += _row(span_columns, row)
            found += _trace_sums(span_columns, rows)
        cost_columns = [Span.__table__.c.trace_id, Span.__table__.c.span_id] + [
            SpanCost.__table__.c[name] for name in COST_COLUMNS
        ]
        for _, costs in batch.costs:
            for row in costs:
                found += _row(cost_columns, row)
    else:
        log_columns = [c for c in LogRecord.__table__.columns if c.name not in ("id", "project_id")]
        for _, rows in batch.groups:
            for row in rows:
                found += _row(log_columns, row)
    for _, scores in batch.scores:
        for score in scores:
            found += _text("scores.evaluator", score.evaluator, indexed=True)
            for name in ("metric", "label", "explanation"):
                found += _text(f"scores.{name}", getattr(score, name))
            if score.value is not None and not math.isfinite(score.value):
                found.append(f"scores.value {score.value}")
            orjson.dumps(score.details)
    return found


_SUMMED = ("input_tokens", "output_tokens", "total_tokens", "reasoning_tokens",
           "cache_read_tokens", "cache_write_tokens")  # fmt: skip


def _trace_sums(columns: list[sa.Column[Any]], rows: Any) -> list[str]:
    """The trace rollup sums token counts into BIGINT columns: each trace's sums must fit
    (here over the request's spans; a trace's later spans add to it, see MAX_COUNT)."""
    names = [column.name for column in columns]
    trace = names.index("trace_id")
    found = []
    for name in _SUMMED:
        at = names.index(name)
        sums: dict[str, int] = {}
        for row in rows:
            if row[at] is not None:
                sums[row[trace]] = sums.get(row[trace], 0) + row[at]
        found += [
            f"trace {t} sums {name} to {total}" for t, total in sums.items() if total >= 1 << 63
        ]
    return found


def _row(columns: list[sa.Column[Any]], row: tuple[Any, ...]) -> list[str]:
    assert len(columns) == len(row)
    found: list[str] = []
    for column, value in zip(columns, row, strict=True):
        if value is None:
            continue
        name = f"{column.table.name}.{column.name}"
        kind = type(column.type)
        if kind in _INT_RANGES:
            bound = _INT_RANGES[kind]
            if type(value) is not int or not -bound <= value < bound:
                found.append(f"{name} = {value!r:.60} out of {kind.__name__}")
        elif kind is sa.Float:
            if type(value) not in (int, float) or not math.isfinite(value):
                found.append(f"{name} = {value!r:.60} is not a finite number")
        elif kind is sa.Boolean:
            if value not in (True, False, 0, 1):
                found.append(f"{name} = {value!r:.60} is not a boolean")
        elif kind is JSONText:
            found += _text(name, value)
            try:
                orjson.loads(value)
            except (orjson.JSONDecodeError, TypeError):
                found.append(f"{name} is not JSON text: {value!r:.60}")
        else:
            indexed = column.table.name == "spans" and column.name in INDEXED
            found += _text(name, value, indexed=indexed)
            length = getattr(column.type, "length", None)
            if length is not None and len(value) > length:
                found.append(f"{name} longer than {length}: {value!r:.60}")
    return found


def _text(name: str, value: Any, *, indexed: bool = False) -> list[str]:
    if value is None:
        return []
    if type(value) is not str:
        return [f"{name} = {value!r:.60} is not text"]
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        return [f"{name} is not valid UTF-8 (a lone surrogate): {value!r:.60}"]
    if indexed and size > _INDEXED_MAX_BYTES:
        return [f"{name} is indexed and {size} bytes long"]
    return []
