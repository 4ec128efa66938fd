"""A trace's steps and tool calls as the reasoning evaluators read them, in one place.

Loops, tool recovery and escalation must agree on what a step is, what a tool call is
called and when two calls are the same; each reads the chunk's spans (sorted by trace
then start time) through these functions.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd

from store.vocabulary import SpanKind

# A step is a decision (a model call) or an action (a tool call), as step_budget counts.
STEP_KINDS = (SpanKind.LLM.value, SpanKind.TOOL.value)


def steps(spans: pd.DataFrame, columns: tuple[str, ...] = ()) -> pd.DataFrame:
    """The model and tool spans' ``trace_id``, ``span_id``, ``kind`` and ``columns``,
    with ``step``: their 1-based number in their trace."""
    taken = spans.loc[
        spans["kind"].isin(STEP_KINDS).to_numpy(), ["trace_id", "span_id", "kind", *columns]
    ]
    return taken.assign(step=taken.groupby("trace_id", sort=False).cumcount().to_numpy() + 1)


def tool_calls(spans: pd.DataFrame, columns: tuple[str, ...] = ()) -> pd.DataFrame:
    """The tool spans' ``trace_id``, ``span_id``, ``status`` and ``columns``, with
    ``called``: the tool's name, else the span's (as the store's escalation rollup reads
    it), and ``position``: the span's place in the chunk, so "later" needs no timestamp
    comparison (two spans may start in the same nanosecond)."""
    is_tool = (spans["kind"] == SpanKind.TOOL.value).to_numpy()
    wanted = ["trace_id", "span_id", "status", *columns]
    calls = spans.loc[is_tool, wanted]
    called = spans["tool_name"][is_tool].fillna(spans["name"][is_tool]).fillna("")
    return calls.assign(called=called.to_numpy(dtype=object), position=np.flatnonzero(is_tool))


def canonical_arguments(arguments: pd.Series) -> pd.Series:
    """Arguments as comparable text: JSON re-serialised with sorted keys and no
    whitespace, so ``{"b": 1, "a": 2}`` and ``{"a":2,"b":1}`` are one call. Text that is
    not JSON is compared stripped. Each distinct value is parsed once."""
    distinct = pd.unique(arguments.dropna().to_numpy(dtype=object))
    canonical = {raw: _canonical(raw) for raw in distinct}
    return pd.Series(
        [canonical.get(raw, "") for raw in arguments.to_numpy(dtype=object, na_value=None)],
        index=arguments.index,
        dtype=object,
    )


_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _canonical(raw: object) -> str:
    text = str(raw).strip()
    try:
        # Bounded by Python's own limits: deep nesting raises RecursionError, a
        # 5,000-digit number ValueError; either is compared as the text it is.
        return _ENCODER.encode(json.loads(text))
    except (ValueError, RecursionError):
        return text


def call_keys(calls: pd.DataFrame) -> np.ndarray:
    """One 64-bit hash per call of (trace, tool, canonical arguments): equal keys, same
    call. Arguments are parsed only where one trace called one tool with differing
    texts; identical texts are identical calls without parsing (most repeats)."""
    raw = calls["tool_arguments"].fillna("")
    frame = pd.DataFrame(
        {
            "trace_id": calls["trace_id"].to_numpy(dtype=object),
            "called": calls["called"].to_numpy(dtype=object),
            "arguments": raw.to_numpy(dtype=object),
        }
    )
    differing = frame.groupby(["trace_id", "called"], sort=False)["arguments"].transform("nunique")
    parse = (differing > 1).to_numpy()
    if parse.any():
        frame.loc[parse, "arguments"] = canonical_arguments(raw[parse]).to_numpy()
    return pd.util.hash_pandas_object(frame, index=False).to_numpy()


def like_matcher(patterns: tuple[str, ...]) -> re.Pattern[str]:
    """SQL LIKE patterns (``%`` any run, ``_`` one character) as one regex, so a name
    matches here exactly when it matches in the database. Leading and trailing ``%``
    become an unanchored search: no ``.*`` to backtrack over a long name."""
    alternatives = []
    for pattern in patterns:
        body = pattern.strip("%")
        regex = "".join(
            ".*?" if char == "%" else "." if char == "_" else re.escape(char) for char in body
        )
        start = "" if pattern.startswith("%") else "^"
        end = "" if pattern.endswith("%") else r"\Z"
        alternatives.append(f"{start}{regex}{end}")
    return re.compile("|".join(f"(?:{part})" for part in alternatives), re.DOTALL)
