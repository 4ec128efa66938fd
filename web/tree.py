"""Spans -> a nested tree, serialized without recursion.

Span ids and parent ids are client-supplied, so a trace can be a 5,000-deep chain or
contain a parent cycle. Children are written by an explicit stack straight to JSON
bytes (no recursion limit), and spans no root reaches (orphans of a cycle) become
roots themselves, so every stored span appears exactly once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

import orjson

from store.models import Span


class Node(Protocol):
    """What the tree needs of a span: a stored Span, or a lighter row of one."""

    @property
    def span_id(self) -> str: ...

    @property
    def parent_span_id(self) -> str | None: ...


N = TypeVar("N", bound=Node)


def roots_and_children(spans: Sequence[N]) -> tuple[list[N], dict[str, list[N]]]:
    """Spans in start order; a span whose parent is not in the trace is a root, and so
    is a span that only a parent cycle reaches (so every span is reached)."""
    ids = {span.span_id for span in spans}
    children: dict[str, list[N]] = defaultdict(list)
    roots: list[N] = []
    for span in spans:
        parent = span.parent_span_id
        if parent is not None and parent in ids and parent != span.span_id:
            children[parent].append(span)
        else:
            roots.append(span)
    reached = _reachable(roots, children)
    roots += [span for span in spans if span.span_id not in reached and span not in roots]
    return roots, children


def _reachable(roots: list[N], children: dict[str, list[N]]) -> set[str]:
    seen: set[str] = set()
    stack = [span.span_id for span in roots]
    while stack:
        span_id = stack.pop()
        if span_id in seen:
            continue
        seen.add(span_id)
        stack.extend(child.span_id for child in children.get(span_id, ()))
    return seen


def tree_json(spans: Sequence[Span], render: Callable[[Span], dict[str, Any]]) -> bytes:
    """A JSON array of root span objects, each with a ``children`` array of the same."""
    roots, children = roots_and_children(spans)
    out = bytearray(b"[")
    emitted: set[str] = set()
    # Stack items: a span to open, or the bytes that close a span's children array.
    stack: list[Span | bytes] = list(reversed(roots))
    first = True
    while stack:
        item = stack.pop()
        if isinstance(item, bytes):
            out += item
            first = False
            continue
        if item.span_id in emitted:  # a duplicate reached through a cycle
            continue
        emitted.add(item.span_id)
        if not first:
            out += b","
        node = orjson.dumps(render(item))
        out += node[:-1] + b',"children":['  # reopen the object to append children
        first = True
        stack.append(b"]}")
        stack.extend(reversed(children.get(item.span_id, [])))
    out += b"]"
    return bytes(out)
