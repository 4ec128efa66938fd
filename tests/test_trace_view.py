"""The trace page's view model, without a server: tree order, bars, clipping, the panel."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from store.trace_read import SpanLine
from web.trace_panel import span_panel
from web.trace_view import (
    CLIP_CHARS,
    Clipper,
    Extent,
    TraceUrls,
    display_text,
    parse_path,
    preorder,
    row_detail,
    value_at,
    waterfall,
)

MS = 1_000_000
URLS = TraceUrls("ab" * 16, "proj")


@dataclass(frozen=True)
class Node:
    span_id: str
    parent_span_id: str | None


def line(
    span_id: str,
    parent: str | None,
    start_ms: int,
    end_ms: int,
    status: str = "ok",
    kind: str = "tool",
    **fields: Any,
) -> SpanLine:
    values: dict[str, Any] = {
        "model": None, "tool_name": None, "agent_name": None, "input_tokens": None,
        "output_tokens": None, "cost_usd": None, "error_type": None,
    }  # fmt: skip
    values.update(fields)
    return SpanLine(span_id, parent, f"span {span_id}", kind, status,
                    start_ms * MS, end_ms * MS, **values)  # fmt: skip


def order(spans: list[Node]) -> list[tuple[str, int]]:
    return [(span.span_id, depth) for span, depth in preorder(spans)]


def test_preorder_nests_children_in_start_order() -> None:
    spans = [Node("r", None), Node("a", "r"), Node("a1", "a"), Node("b", "r"), Node("a2", "a")]
    assert order(spans) == [("r", 0), ("a", 1), ("a1", 2), ("a2", 2), ("b", 1)]


def test_orphans_and_self_parents_are_roots() -> None:
    spans = [Node("x", "missing"), Node("y", "y"), Node("z", "x")]
    assert order(spans) == [("x", 0), ("z", 1), ("y", 0)]


def test_a_parent_cycle_still_shows_every_span_once() -> None:
    spans = [Node("a", "b"), Node("b", "a"), Node("c", "a"), Node("r", None)]
    result = order(spans)
    assert sorted(span_id for span_id, _ in result) == ["a", "b", "c", "r"]
    assert result[0] == ("r", 0)


def test_a_5000_deep_chain_needs_no_recursion() -> None:
    spans = [Node("0", None)] + [Node(str(i), str(i - 1)) for i in range(1, 5000)]
    result = order(spans)
    assert result[-1] == ("4999", 4999)


def test_bars_are_placed_on_the_trace_scale() -> None:
    lines = [line("r", None, 0, 1000, kind="agent"), line("a", "r", 250, 750)]
    rows = waterfall(preorder(lines), Extent(0, 1000 * MS))
    assert [row.bar for row in rows] == ["left:0.00%;width:100.00%", "left:25.00%;width:50.00%"]
    assert [row.has_children for row in rows] == [True, False]
    assert rows[1].duration == "500 ms"


def test_zero_length_spans_and_traces_still_get_a_visible_bar() -> None:
    rows = waterfall(preorder([line("r", None, 5, 5)]), Extent(5 * MS, 5 * MS))
    assert rows[0].bar == "left:0.00%;width:0.15%"


def test_errors_mark_the_row_and_every_ancestor_as_having_errors_below() -> None:
    lines = [
        line("r", None, 0, 10, kind="agent"),
        line("a", "r", 1, 5, kind="agent"),
        line("a1", "a", 1, 2, status="error", error_type="TimeoutError"),
        line("b", "r", 6, 9),
    ]
    rows = waterfall(preorder(lines), Extent(0, 10 * MS))
    assert [(row.span_id, row.error, row.error_below) for row in rows] == [
        ("r", False, True), ("a", False, True), ("a1", True, False), ("b", False, False),
    ]  # fmt: skip
    assert "err" in rows[2].css.split() and "err-below" in rows[0].css.split()
    assert rows[2].detail.startswith("TimeoutError")


def test_row_detail_says_model_tokens_and_cost_but_not_inherited_agent_names() -> None:
    llm = line("m", None, 0, 1, kind="llm", model="gpt-4.1", input_tokens=1210,
               output_tokens=184, cost_usd=0.0031, agent_name="planner")  # fmt: skip
    assert row_detail(llm) == "gpt-4.1 \u00b7 1,210 \u2192 184 tok \u00b7 $0.0031"


def test_display_text_indents_json_and_keeps_text_as_sent() -> None:
    assert display_text('{"a": [1]}') == '{\n  "a": [\n    1\n  ]\n}'
    assert display_text("{not json") == "{not json"
    assert display_text("plain <b>") == "plain <b>"
    assert display_text({"k": "v"}) == '{\n  "k": "v"\n}'


def test_clipped_values_link_to_their_whole_value_by_path() -> None:
    document = {"attributes": {"big": "x" * 5000, "small": "y"}}
    clipper = Clipper(document, lambda path: URLS.span_value("cd" * 8, path))
    big, small = clipper("attributes", "big"), clipper("attributes", "small")
    assert big is not None and small is not None
    assert len(big.shown) == CLIP_CHARS and big.hidden == 3000 and big.full_url is not None
    assert big.full_url.startswith(f"/traces/{'ab' * 16}/spans/{'cd' * 8}/value?project=proj")
    assert small.full_url is None and not small.truncated
    assert value_at(document, parse_path('["attributes", "big"]')) == "x" * 5000


@pytest.mark.parametrize("raw", ["", "{", '{"a": 1}', '["a", 1.5]', '["a", true]'])
def test_malformed_paths_are_refused(raw: str) -> None:
    with pytest.raises(ValueError):
        parse_path(raw)


def test_value_at_misses_are_lookup_errors() -> None:
    for path in (("nope",), ("list", 5), ("list", -1), ("list", "0")):
        with pytest.raises(LookupError):
            value_at({"list": [1]}, path)


def _span(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "span_id": "cd" * 8, "parent_span_id": None, "name": "chat", "kind": "llm",
        "status": "ok", "start_time_unix_nano": 2 * MS, "duration_ms": 5.0,
        "attributes": {}, "events": [], "links": [], "logs": [],
    }  # fmt: skip
    return base | fields


def test_panel_shows_roles_tool_calls_and_results() -> None:
    panel = span_panel(
        _span(
            input_messages=[
                {"role": "system", "content": "Be brief."},
                {"role": "tool", "content": '{"ok": true}', "tool_call_id": "call_1"},
            ],
            output_messages=[
                {
                    "role": "assistant",
                    "tool_calls": [
                        {"id": "call_2", "name": "send_email", "arguments": '{"to": "a@b"}'}
                    ],
                }
            ],
            system_instructions="Be brief.",
            input_tokens=10,
        ),
        0,
        URLS,
    )
    assert [m.role for m in panel.input_messages] == ["system", "tool"]
    assert panel.input_messages[1].tool_call_id == "call_1"
    [call] = panel.output_messages[0].tool_calls
    assert call.name == "send_email" and call.arguments is not None
    assert call.arguments.shown == '{\n  "to": "a@b"\n}'
    # The system message already says it: no second copy of the instructions.
    assert panel.system_instructions is None
    assert panel.offset_ms == 2.0 and panel.usage.known


def test_panel_survives_messages_of_any_shape() -> None:
    hostile = '"><img src=x onerror="window.__xss=1">'
    panel = span_panel(
        _span(
            input_messages=["just text", {"role": hostile, "content": 5, "tool_calls": "no"}],
            events=["x", {"name": "exception", "time_unix_nano": 3 * MS, "attributes": []}],
            links=[{"trace_id": "javascript:alert(1)", "span_id": "x"}],
            logs=[{"body": {"a": 1}, "severity_number": 9}],
        ),
        0,
        URLS,
    )
    assert panel.input_messages[0].content is not None
    assert panel.input_messages[1].role == hostile
    assert panel.input_messages[1].role_class == "other"
    assert [event.exception for event in panel.events] == [True]
    assert panel.events[0].offset_ms == 1.0
    assert panel.links[0].href is None
    assert panel.logs[0].severity == "9"
