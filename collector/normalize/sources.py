"""The rows of the rule tables: where a canonical field may find its value.

A field is an ordered tuple of sources; the first one that yields a usable value wins
(SEMCONV 6.2). Most sources are plain attribute keys (:class:`Attr`), resolved with one
dict lookup; the few that need more (a key inside a JSON attribute, a span-name suffix,
a span event, a sum) are :class:`Derived` rows with a small function. Adding a
convention is adding rows to these tables, never a new branch in the normalizer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from collector.normalize.signals import name_prefix
from store.vocabulary import SpanKind

if TYPE_CHECKING:
    from collector.normalize.context import Context


def _identity(value: Any) -> Any:
    return value


@dataclass(frozen=True, slots=True)
class Attr:
    """An attribute key, read with ``read`` (a coercion returning ``None`` when unusable).

    ``kinds`` restricts the row to spans of those kinds: ``input.value`` is a tool's
    arguments on a tool span but the raw model request on an LLM span (SEMCONV 6.0.5).
    """

    key: str
    convention: str | None
    read: Callable[[Any], Any] = _identity
    kinds: frozenset[SpanKind] | None = None

    @property
    def keys(self) -> tuple[str, ...]:
        return (self.key,)

    @property
    def label(self) -> str:
        return self.key


@dataclass(frozen=True, slots=True)
class Derived:
    """A value computed from the span by ``get``: JSON sub-keys, span names, events, sums.

    ``keys`` lists the attribute keys ``get`` reads (so they count as known) and
    ``signals`` the other things it needs (:mod:`.signals`); the row is tried only on
    spans that have one of them, so every row must declare at least one.
    ``convention`` names who defines those keys (``None`` for generic OTel).
    """

    label: str
    get: Callable[[Context], Any]
    keys: tuple[str, ...] = ()
    convention: str | None = None
    kinds: frozenset[SpanKind] | None = None
    signals: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.keys and not self.signals:
            raise ValueError(f"row {self.label!r} declares neither keys nor signals")


Source = Attr | Derived


@dataclass(frozen=True, slots=True, eq=False)
class Field:
    """One canonical field and its candidate sources in priority order."""

    name: str
    sources: tuple[Source, ...]


def resolve(
    field: Field, ctx: Context, positions: Iterable[int] | None = None
) -> tuple[Any, Source | None]:
    """The first usable value among ``field``'s sources, and the row it came from.

    ``positions`` narrows the rows to try (ascending): the normalizer passes the rows
    woken by the span's keys and signals, so rows for absent keys cost nothing.
    """
    sources = field.sources
    found = ctx.found
    kind = ctx.kind
    for position in range(len(sources)) if positions is None else positions:
        src = sources[position]
        if src.kinds is not None and kind not in src.kinds:
            continue
        if isinstance(src, Attr):
            value = found.get(src.key)
            if value is None:
                continue
            value = src.read(value)
        else:
            value = src.get(ctx)
        # usable() inlined: this loop runs for every field of every span.
        if value is None or (type(value) in SIZED and not value):
            continue
        return value, src
    return None, None


# Types whose empty value is not usable (SEMCONV 6.0.4), for inlined usable() checks.
SIZED = frozenset({str, list, dict, tuple})


def json_key(
    key: str, *path: str, read: Callable[[Any], Any] = _identity
) -> Callable[[Context], Any]:
    """A ``Derived`` getter for ``path`` inside the JSON object held by attribute ``key``."""

    def get(ctx: Context) -> Any:
        node: Any = ctx.json(key)
        for step in path:
            if type(node) is not dict:
                return None
            node = node.get(step)
        return read(node)

    return get


def span_name_after(*prefixes: str) -> Derived:
    """A row reading the rest of the span name after one of ``prefixes``.

    Instrumentations name spans ``invoke_agent {agent}`` or ``execute_tool {tool}``
    (SEMCONV 2.2), so the name is the fallback when the attribute was left out.
    """

    def get(ctx: Context) -> str | None:
        name = ctx.span.name
        if type(name) is not str:
            return None
        for prefix in prefixes:
            if name.startswith(prefix):
                return name[len(prefix) :].strip() or None
        return None

    return Derived("span name", get, signals=tuple(name_prefix(p) for p in prefixes))
