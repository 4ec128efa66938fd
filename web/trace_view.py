"""The trace page's view model: pure functions from stored spans to what templates show.

Templates stay simple and fast (5,000 rows render in one loop): positions, labels and
clipped texts are computed here. Every text that came from a span is untrusted and
possibly huge; it reaches a template only as a :class:`Text`, at most ``CLIP_CHARS``
long, with the URL of its whole value when it was cut ("show all"). Values are
addressed by their path in the span's API document (``web.serialize.span_json``), so
the panel and the full-value route read the same thing the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from store.trace_read import SpanLine
from web.templating import fmt_int, fmt_ms, fmt_usd, query_string
from web.tree import N, roots_and_children

CLIP_CHARS = 2_000
KEY_CHARS = 200
# JSON text up to this size is shown indented; beyond it, as sent (parsing a hostile
# megabyte on every panel open buys nothing).
PRETTY_MAX_CHARS = 256 * 1024
# Bars narrower than this (% of the trace) would vanish; spans of 0 ns still show.
MIN_BAR_PCT = 0.15

Path = tuple[str | int, ...]


# --- URLs --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TraceUrls:
    """Every URL the trace page links to, built in one place, always with the project."""

    trace_id: str
    project: str

    @property
    def base(self) -> str:
        return f"/traces/{self.trace_id}"

    def page(self, **params: Any) -> str:
        return self.base + query_string({"project": self.project}, **params)

    def scores_csv(self) -> str:
        """The Scores table as CSV (``/api/traces/{id}/scores.csv``)."""
        return f"/api/traces/{self.trace_id}/scores.csv" + query_string({"project": self.project})

    def span(self, span_id: str) -> str:
        """The page with the span's panel open: the link every row falls back to."""
        return self.page(span=span_id)

    def span_prefix(self, view: str | None = None) -> str:
        """A link to a span is this plus its id: 5,000 rows need no 5,000 urlencodes.
        Relative (``?...``) to the page it is on, to keep the page small."""
        return query_string({"project": self.project}, view=view) + "&span="

    def span_value(self, span_id: str, path: Path) -> str:
        return f"{self.base}/spans/{span_id}/value" + query_string(
            {"project": self.project, "path": _path_param(path)}
        )

    def trace_value(self, path: Path) -> str:
        return f"{self.base}/value" + query_string(
            {"project": self.project, "path": _path_param(path)}
        )


def _path_param(path: Path) -> str:
    return orjson.dumps(list(path)).decode()


def parse_path(raw: str) -> Path:
    """A ``path`` query parameter back into keys and indexes; ValueError if malformed."""
    try:
        parts = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ValueError("path must be a JSON array") from None
    if not isinstance(parts, list) or not all(
        isinstance(part, str) or (isinstance(part, int) and not isinstance(part, bool))
        for part in parts
    ):
        raise ValueError("path must be a JSON array of keys and indexes")
    return tuple(parts)


def value_at(document: Any, path: Path) -> Any:
    """The value at ``path``; LookupError when there is none."""
    value = document
    for part in path:
        in_mapping = isinstance(value, Mapping) and isinstance(part, str) and part in value
        in_list = isinstance(value, list) and isinstance(part, int) and 0 <= part < len(value)
        if not (in_mapping or in_list):
            raise LookupError(f"no value at {list(path)!r}")
        value = value[part]
    return value


# --- Text --------------------------------------------------------------------------


def display_text(value: Any) -> str:
    """How a stored value reads: text as sent, JSON (text or structure) indented."""
    if isinstance(value, str):
        if value[:100].lstrip()[:1] in ("{", "[") and len(value) <= PRETTY_MAX_CHARS:
            try:
                return _pretty(orjson.loads(value))
            except orjson.JSONDecodeError:
                return value
        return value
    return _pretty(value)


def _pretty(value: Any) -> str:
    try:
        return orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return repr(value)


@dataclass(frozen=True, slots=True)
class Text:
    """A value as shown: at most ``CLIP_CHARS`` characters, and where the rest is."""

    shown: str
    length: int
    full_url: str | None = None

    @property
    def truncated(self) -> bool:
        return self.length > len(self.shown)

    @property
    def hidden(self) -> int:
        return self.length - len(self.shown)


def clip(text: str, chars: int = CLIP_CHARS, full_url: str | None = None) -> Text:
    if len(text) <= chars:
        return Text(text, len(text))
    return Text(text[:chars], len(text), full_url)


def label(value: Any, chars: int = KEY_CHARS) -> str:
    """A short untrusted string (a role, a key, a name): cut, never expandable."""
    text = value if isinstance(value, str) else display_text(value)
    return text if len(text) <= chars else text[:chars] + "\u2026"


class Clipper:
    """Makes the :class:`Text` of values of one document, each with its full-value URL."""

    def __init__(self, document: Any, url_of: Callable[[Path], str]) -> None:
        self.document = document
        self.url_of = url_of

    def __call__(self, *path: str | int) -> Text | None:
        try:
            value = value_at(self.document, path)
        except LookupError:
            return None
        if value is None or value == "" or value == [] or value == {}:
            return None
        text = display_text(value)
        return clip(text, full_url=self.url_of(path) if len(text) > CLIP_CHARS else None)


# --- The span tree -----------------------------------------------------------------


def preorder(spans: Sequence[N]) -> list[tuple[N, int]]:
    """Spans (in start order) as the tree reads top to bottom: (span, depth).

    Same rules as the API's tree (``web/tree.py``): a span whose parent is not in the
    trace is a root, spans that only a parent cycle reaches become roots too, and every
    span appears exactly once. Iterative, so a 5,000-deep chain is no problem.
    """
    roots, children = roots_and_children(spans)
    out: list[tuple[N, int]] = []
    emitted: set[str] = set()

    def walk(root: N) -> None:
        stack = [(root, 0)]
        while stack:
            span, depth = stack.pop()
            if span.span_id in emitted:
                continue
            emitted.add(span.span_id)
            out.append((span, depth))
            stack.extend((child, depth + 1) for child in reversed(children.get(span.span_id, [])))

    for root in roots:
        walk(root)
    return out


# --- Waterfall rows ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Row:
    """One waterfall row, its markup pieces precomputed: 5,000 rows render in one loop."""

    span_id: str
    name: str
    kind: str
    error: bool
    depth: int
    has_children: bool
    # Some descendant failed: a collapsed row still says so.
    error_below: bool
    css: str  # the row's classes: kind, error, error below
    bar: str  # inline style placing the bar, in % of the trace's duration
    duration: str
    detail: str


@dataclass(frozen=True, slots=True)
class Extent:
    """Where the trace starts and ends (its rollup): the scale of every bar."""

    start_ns: int
    end_ns: int

    @property
    def duration_ns(self) -> int:
        return max(self.end_ns - self.start_ns, 0)


def row_detail(line: SpanLine) -> str:
    """What a row says beside its name: error type, model or tool, tokens, cost."""
    parts: list[str] = []
    if line.error_type:
        parts.append(line.error_type)
    if line.model:
        parts.append(line.model)
    if line.tool_name and line.tool_name not in line.name:
        parts.append(line.tool_name)
    # Agent names propagate to every span of an agent: only the agent span says it.
    if line.kind == "agent" and line.agent_name and line.agent_name not in line.name:
        parts.append(line.agent_name)
    if line.input_tokens is not None or line.output_tokens is not None:
        parts.append(f"{fmt_int(line.input_tokens)} \u2192 {fmt_int(line.output_tokens)} tok")
    if line.cost_usd is not None:
        parts.append(fmt_usd(line.cost_usd))
    return " \u00b7 ".join(parts)


def waterfall(ordered: Sequence[tuple[SpanLine, int]], scale: Extent) -> list[Row]:
    """Rows in tree order, bars placed on the trace's time scale."""
    total = max(scale.duration_ns, 1)
    has_children = [
        index + 1 < len(ordered) and ordered[index + 1][1] > depth
        for index, (_, depth) in enumerate(ordered)
    ]
    error_below = _errors_below(ordered)
    rows = []
    for index, (line, depth) in enumerate(ordered):
        offset = line.start_ns - scale.start_ns
        duration = max(line.end_ns - line.start_ns, 0)
        left = min(max(100 * offset / total, 0.0), 100.0)
        width = min(max(100 * duration / total, MIN_BAR_PCT), max(100.0 - left, MIN_BAR_PCT))
        error = line.status == "error"
        css = f"wf-row k-{line.kind}"
        if error:
            css += " err"
        if error_below[index]:
            css += " err-below"
        rows.append(
            Row(
                span_id=line.span_id,
                name=line.name,
                kind=line.kind,
                error=error,
                depth=depth,
                has_children=has_children[index],
                error_below=error_below[index],
                css=css,
                bar=f"left:{left:.2f}%;width:{width:.2f}%",
                duration=fmt_ms(duration / 1e6),
                detail=row_detail(line),
            )
        )
    return rows


def _errors_below(ordered: Sequence[tuple[SpanLine, int]]) -> list[bool]:
    """For each row, whether any row of its subtree (not itself) failed; one pass."""
    below = [False] * len(ordered)
    # Walking backwards, a stack holds (depth, failed-in-subtree) of pending subtrees.
    stack: list[tuple[int, bool]] = []
    for index in range(len(ordered) - 1, -1, -1):
        line, depth = ordered[index]
        failed = False
        while stack and stack[-1][0] > depth:
            failed = stack.pop()[1] or failed
        below[index] = failed
        stack.append((depth, failed or line.status == "error"))
    return below


def ticks(scale: Extent, count: int = 3) -> list[tuple[str, float]]:
    """Time-axis labels: (left %, offset in ms)."""
    return [
        (f"{100 * i / count:.0f}", scale.duration_ns * i / count / 1e6) for i in range(count + 1)
    ]
