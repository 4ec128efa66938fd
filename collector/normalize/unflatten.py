"""Rebuild lists of objects that OTel attributes can only carry flattened.

OpenInference and OpenLLMetry spell a message list as ``<prefix>.<i>.<path>`` keys
(``llm.input_messages.0.message.role``); SEMCONV 6.0.3 asks for them back as a list
sorted by the integer index, because string order puts ``10`` before ``2``.
"""

from __future__ import annotations

from typing import Any

# Paths deeper than this stay joined in their last segment: real conventions nest five
# levels at most, and a bound keeps a hostile key of 10,000 dots from recursing.
_MAX_DEPTH = 12
# An index longer than this is not a list position anyone sent on purpose.
_MAX_INDEX_DIGITS = 9


class _Node(dict[Any, Any]):
    """A dict built here (as opposed to a kvlist value a client sent), safe to reshape."""


def is_index(segment: str) -> bool:
    """Whether ``segment`` is a list index: ASCII digits only, of sane length."""
    return 0 < len(segment) <= _MAX_INDEX_DIGITS and segment.isascii() and segment.isdigit()


def unflatten(attributes: dict[str, Any], name: str, keys: list[str]) -> list[Any]:
    """The items of family ``name`` in index order, from ``keys`` (all ``name.<int>...``).

    An item is a nested dict of its paths (numeric segments become lists again); a key
    with no path after the index is the item itself. When two keys disagree on shape
    (``a.b`` = 1 and ``a.b.c`` = 2) the first one wins and the other is left out of the
    structure: the raw attributes keep both.
    """
    start = len(name) + 1
    items: dict[int, Any] = {}
    for key in keys:
        index_text, _, path = key[start:].partition(".")
        index = int(index_text)
        value = attributes.get(key)
        if not path:
            items.setdefault(index, value)
            continue
        node = items.setdefault(index, _Node())
        if type(node) is _Node:
            _insert(node, path.split(".", _MAX_DEPTH), value)
    return [_listify(items[index]) for index in sorted(items)]


def _insert(node: _Node, segments: list[str], value: Any) -> None:
    for segment in segments[:-1]:
        # isdigit() first: most segments are names, and it rejects them in C.
        step: Any = int(segment) if segment.isdigit() and is_index(segment) else segment
        child = node.get(step)
        if child is None:
            child = node[step] = _Node()
        elif type(child) is not _Node:
            return
        node = child
    last: Any = segments[-1]
    if last.isdigit() and is_index(last):
        last = int(last)
    node.setdefault(last, value)


def _listify(value: Any) -> Any:
    """Turn built nodes whose keys are all indexes into sorted lists, recursively."""
    if type(value) is not _Node:
        return value
    if value and all(type(key) is int for key in value):
        return [_listify(value[index]) for index in sorted(value)]
    return {key: _listify(child) for key, child in value.items()}
