"""Where the safety evaluators look: a chunk's texts, by the direction they travel.

Outputs leave the agent (model answers, the trace's final output, assistant message
events); tool arguments leave it towards a tool; inputs and tool results come into it.
Each function returns one row per text (``TEXT_COLUMNS``): its trace and span, when it
travelled (an output when its span ended, an argument when its call started), a source
name and a short description of the place for explanations.

A model's output that is only tool calls (the store renders them ``name({...})``) is
the call's arguments, not an answer: it is returned with the arguments.

GenAI log events (openai-v2's default mode and others) hold several channels in one JSON
body: a choice has the answer's text and the tool calls' arguments. The raw body is
scanned whole; :func:`log_channels` then tells, for the few bodies that matched, which
channel the match is in.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pandas as pd

from evals.frames import Chunk

TEXT_COLUMNS = ("trace_id", "span_id", "time_ns", "source", "place", "text")
OUTPUT_KINDS = ("llm", "agent", "chain")
INPUT_KINDS = ("agent", "chain")
# The store's rendering of an answer that is only tool calls: ``name({...})`` lines.
TOOL_CALLS_ONLY = re.compile(r"[\w.:-]{1,200}\((?s:.*)\)\s*\Z")
_CALL_START = re.compile(r"[\w.:-]{1,200}\(")

ASSISTANT_EVENTS = frozenset(
    {"gen_ai.choice", "gen_ai.assistant.message", "gen_ai.content.completion"}
)
INCOMING_EVENTS = frozenset(
    {"gen_ai.user.message", "gen_ai.tool.message", "gen_ai.tools.message", "gen_ai.content.prompt"}
)
DETAILS_EVENT = "gen_ai.client.inference.operation.details"
_EVENT_ROLES = {
    "gen_ai.choice": "assistant",
    "gen_ai.assistant.message": "assistant",
    "gen_ai.content.completion": "assistant",
    "gen_ai.user.message": "user",
    "gen_ai.content.prompt": "user",
    "gen_ai.tool.message": "tool",
    "gen_ai.tools.message": "tool",
    "gen_ai.system.message": "system",
}
# A message's role -> the channel its text is in.
_ROLE_CHANNELS = {"assistant": "output", "user": "input", "tool": "tool_result"}


def outputs(chunk: Chunk) -> pd.DataFrame:
    """Model and agent outputs (not tool-call renderings) and the trace's final output."""
    spans = chunk.spans
    texts = _pick(spans, spans["kind"].isin(OUTPUT_KINDS), "output_text")
    texts = texts[~((texts["kind"] == "llm") & _calls_only(texts["output_text"]))]
    traces = _pick_traces(chunk.traces, "output")
    return pd.concat(
        [
            _frame(
                texts, "output_text", _ended(texts), "output", _named("output of ", texts["name"])
            ),
            _frame(
                traces.rename(columns={"root_span_id": "span_id"}),
                "output",
                traces["start_time_ns"] + traces["duration_ns"],
                "output",
                "the final output",
            ),
        ],
        ignore_index=True,
    )


def tool_arguments(chunk: Chunk) -> pd.DataFrame:
    """Arguments of tool calls, as the tool span has them and as the model wrote them."""
    spans = chunk.spans
    tools = _pick(spans, spans["kind"] == "tool", "tool_arguments")
    llm = _pick(spans, spans["kind"] == "llm", "output_text")
    llm = llm[_calls_only(llm["output_text"])]
    return pd.concat(
        [
            _frame(
                tools,
                "tool_arguments",
                tools["start_time_ns"],
                "tool_arguments",
                _named("arguments of ", tools["tool_name"].fillna(tools["name"])),
            ),
            _frame(
                llm,
                "output_text",
                _ended(llm),
                "tool_arguments",
                _named("tool calls of ", llm["name"]),
            ),
        ],
        ignore_index=True,
    )


def tool_results(chunk: Chunk) -> pd.DataFrame:
    """What tools returned, and what retrievers retrieved: content from outside."""
    spans = chunk.spans
    tools = _pick(spans, spans["kind"] == "tool", "tool_result")
    retrieved = _pick(spans, spans["kind"] == "retrieval", "output_text")
    return pd.concat(
        [
            _frame(
                tools,
                "tool_result",
                _ended(tools),
                "tool_result",
                _named("result of ", tools["tool_name"].fillna(tools["name"])),
            ),
            _frame(
                retrieved,
                "output_text",
                _ended(retrieved),
                "tool_result",
                _named("documents retrieved by ", retrieved["name"]),
            ),
        ],
        ignore_index=True,
    )


def inputs(chunk: Chunk) -> pd.DataFrame:
    """What the user (or a calling agent) asked: the trace's input and agent inputs."""
    spans = chunk.spans
    agents = _pick(spans, spans["kind"].isin(INPUT_KINDS), "input_text")
    traces = _pick_traces(chunk.traces, "input")
    return pd.concat(
        [
            _frame(
                traces.rename(columns={"root_span_id": "span_id"}),
                "input",
                traces["start_time_ns"],
                "input",
                "the user's input",
            ),
            _frame(
                agents,
                "input_text",
                agents["start_time_ns"],
                "input",
                _named("input of ", agents["name"]),
            ),
        ],
        ignore_index=True,
    )


def distinct(texts: pd.DataFrame) -> pd.DataFrame:
    """Each text once per trace and source, where it first appeared: a final answer is
    the last model output, the agent's output and the trace's output, scanned once."""
    ordered = texts.sort_values("time_ns", kind="stable")
    return ordered.drop_duplicates(["trace_id", "source", "text"]).reset_index(drop=True)


def log_events(chunk: Chunk, names: frozenset[str]) -> pd.DataFrame:
    """Log event bodies of the given event names (and operation-details events), raw:
    the caller keeps a match after :func:`log_channels` places it."""
    logs = chunk.logs
    if logs.empty:
        return pd.DataFrame(columns=[*TEXT_COLUMNS, "event_name"])
    rows = logs[logs["event_name"].isin(names | {DETAILS_EVENT}) & logs["text"].notna()]
    roots = chunk.traces.set_index("trace_id")["root_span_id"]
    span_id = rows["span_id"].where(rows["span_id"].notna(), rows["trace_id"].map(roots))
    frame = pd.DataFrame(
        {
            "trace_id": rows["trace_id"],
            "span_id": span_id,
            "time_ns": rows["time_ns"],
            "source": "log",
            "place": _named("the event ", rows["event_name"]),
            "text": rows["text"].astype(str),
            "event_name": rows["event_name"],
        }
    )
    return frame.reset_index(drop=True)


def log_channels(event_name: str, text: str) -> dict[str, str]:
    """A log event body's texts by channel (output, tool_arguments, input, tool_result,
    system), each channel's texts joined; an unreadable body is all of its role's channel."""
    try:
        body = json.loads(text)
    except ValueError:
        body = text
    found: dict[str, list[str]] = {}
    if event_name == DETAILS_EVENT and isinstance(body, dict):
        for key, role in (
            ("gen_ai.input.messages", "user"),
            ("gen_ai.output.messages", "assistant"),
        ):
            for message in _as_list(_parsed(body.get(key))):
                for channel, part in _message(message, role, 0):
                    found.setdefault(channel, []).append(part)
    else:
        role = _EVENT_ROLES.get(event_name, "user")
        for channel, part in _message(body, role, 0):
            found.setdefault(channel, []).append(part)
    return {channel: "\n".join(parts) for channel, parts in found.items()}


def _message(message: Any, role: str, depth: int) -> Iterator[tuple[str, str]]:
    """(channel, text) of one message in any of the GenAI shapes: a string, ``content``
    as text or parts, ``parts``, ``tool_calls``, a choice's nested ``message``."""
    if depth > 6:
        return
    channel = _ROLE_CHANNELS.get(role, "system")
    if isinstance(message, str):  # text as sent, JSON or not (a tool's result often is)
        yield channel, message
        return
    if isinstance(message, list):
        for part in message:
            yield from _part(part, role, depth + 1)
        return
    if not isinstance(message, dict):
        return
    own_role = message.get("role")
    if isinstance(own_role, str) and own_role in _ROLE_CHANNELS:
        role, channel = own_role, _ROLE_CHANNELS[own_role]
    if "message" in message:  # a choice: its message, sometimes as a JSON string
        yield from _message(_parsed(message["message"]), role, depth + 1)
    for key in ("content", "parts"):
        if key in message:
            yield from _message(message[key], role, depth + 1)
    for call in _as_list(message.get("tool_calls")):
        yield from _tool_call(call)


def _part(part: Any, role: str, depth: int) -> Iterator[tuple[str, str]]:
    if not isinstance(part, dict):
        yield from _message(part, role, depth)
        return
    kind = part.get("type")
    if kind == "tool_call" or "function" in part:
        yield from _tool_call(part)
    elif kind == "tool_call_response":
        yield "tool_result", _text(part.get("response", part.get("result")))
    else:
        yield from _message(part.get("content", part.get("text")), role, depth)


def _tool_call(call: Any) -> Iterator[tuple[str, str]]:
    if not isinstance(call, dict):
        return
    function = call.get("function")
    arguments = (function if isinstance(function, dict) else call).get("arguments")
    if arguments is not None:
        yield "tool_arguments", _text(arguments)


def _parsed(value: Any) -> Any:
    """A JSON string holding a structure, parsed; anything else as it is."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _as_list(value: Any) -> list[Any]:
    value = _parsed(value)
    return value if isinstance(value, list) else []


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _pick(spans: pd.DataFrame, rows: pd.Series, column: str) -> pd.DataFrame:
    """The rows with text in ``column``, and only the columns a text row needs: a wide
    chunk copied whole for each filter costs more than the filter."""
    keep = ["trace_id", "span_id", "kind", "name", "tool_name", "start_time_ns", "duration_ns"]
    return spans.loc[rows & spans[column].notna(), [*keep, column]]


def _pick_traces(traces: pd.DataFrame, column: str) -> pd.DataFrame:
    keep = ["trace_id", "root_span_id", "start_time_ns", "duration_ns", column]
    return traces.loc[traces[column].notna(), keep]


def _calls_only(texts: pd.Series) -> pd.Series:
    # TOOL_CALLS_ONLY, checked at both ends instead of read through: a comprehension over
    # a list, as pandas' str accessor calls back into Python per row anyway.
    start = _CALL_START.match
    calls = [
        text.rstrip().endswith(")") and start(text) is not None
        for text in texts.astype(str).tolist()
    ]
    return pd.Series(calls, index=texts.index, dtype=bool)


def _named(prefix: str, names: pd.Series) -> pd.Series:
    return prefix + names.fillna("?").astype(str)


def _ended(spans: pd.DataFrame) -> pd.Series:
    return spans["start_time_ns"] + spans["duration_ns"]


def _frame(rows: pd.DataFrame, column: str, time_ns: Any, source: str, place: Any) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "trace_id": rows["trace_id"],
            "span_id": rows["span_id"],
            "time_ns": time_ns,
            "source": source,
            "place": place,
            "text": rows[column].astype(str),
        },
        columns=list(TEXT_COLUMNS),
    )
