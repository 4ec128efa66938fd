"""The one pass over a span's attributes: known values, woken rows, leftovers.

Exact keys are one dict probe each (:data:`.index.KEY_INDEX`); any other key is sorted
once (indexed family, acknowledged or generic prefix, custom confidence, unmapped) and
the verdict remembered, because instrumentations send the same keys span after span.
Scope and resource attributes are looked at after the span's own (SEMCONV 6.0.1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from collector.normalize import signals
from collector.normalize.confidence import is_custom_confidence_key
from collector.normalize.index import (
    FAMILIES,
    FAMILY_PREFIXES,
    FAMILY_SIGNALS,
    KEY_INDEX,
    KNOWN_PREFIXES,
    NAME_PREFIXES,
    NAME_SIGNALS,
    PREFIX_CONVENTIONS,
    SIGNAL_USES,
    Use,
)
from collector.normalize.sources import Field
from collector.normalize.unflatten import is_index
from collector.spans import RawSpan


def rows_to_try(hits: dict[str, list[int]], field: Field) -> list[int] | None:
    """Positions of ``field``'s rows woken on this span, ascending, or ``None``."""
    rows = hits.get(field.name)
    if rows is not None and len(rows) > 1:
        rows.sort()
    return rows


class Scan:
    """The result of one pass over a span's attributes."""

    __slots__ = ("conventions", "custom_confidence", "families", "found", "hits", "unmapped")

    def __init__(self) -> None:
        self.found: dict[str, Any] = {}
        self.families: dict[str, list[str]] = {}
        # Field name -> positions of its rows woken by a key or a signal on this span.
        self.hits: dict[str, list[int]] = {}
        self.conventions: set[str] = set()
        self.unmapped: list[str] = []
        self.custom_confidence: list[str] = []


def _hit(hits: dict[str, list[int]], uses: tuple[Use, ...]) -> None:
    for name, position in uses:
        rows = hits.get(name)
        if rows is None:
            hits[name] = [position]
        elif position not in rows:
            rows.append(position)


def raise_signal(hits: dict[str, list[int]], signal: str) -> None:
    """Wake the rows waiting for ``signal`` (see :mod:`.signals`)."""
    uses = SIGNAL_USES.get(signal)
    if uses is not None:
        _hit(hits, uses)


# How a key that is not an exact rule key is sorted.
FAMILY, ACKNOWLEDGED_KEY, CUSTOM_CONFIDENCE, UNMAPPED = range(4)


@dataclass(frozen=True, slots=True)
class Sorted:
    """The verdict on a non-rule key; ``family`` is set for FAMILY keys."""

    verdict: int
    convention: str | None = None
    family: str | None = None
    uses: tuple[Use, ...] = ()


_UNMAPPED = Sorted(UNMAPPED)
_CUSTOM = Sorted(CUSTOM_CONFIDENCE)


def sort_key(key: str) -> Sorted:
    """Family member, acknowledged/generic prefix, custom confidence, or unmapped."""
    if key.startswith(FAMILY_PREFIXES):
        for name, convention in FAMILIES:
            start = len(name) + 1
            if key.startswith(f"{name}.") and is_index(key[start:].partition(".")[0]):
                uses = SIGNAL_USES.get(FAMILY_SIGNALS[name], ())
                return Sorted(FAMILY, convention, name, uses)
    if key.startswith(KNOWN_PREFIXES):
        for prefix, owner in PREFIX_CONVENTIONS:
            if key.startswith(prefix):
                return Sorted(ACKNOWLEDGED_KEY, owner)
    if is_custom_confidence_key(key):
        return _CUSTOM
    return _UNMAPPED


# Instrumentations send the same keys span after span, so verdicts are remembered; the
# bound keeps a client that invents a new key per span from growing this without end.
_SORTED_LIMIT = 20_000
_sorted_cache: dict[str, Sorted] = {}


def _sorted(key: str) -> Sorted:
    verdict = _sorted_cache.get(key)
    if verdict is None:
        verdict = sort_key(key)
        if len(_sorted_cache) < _SORTED_LIMIT:
            _sorted_cache[key] = verdict
    return verdict


def _key_text(key: Any) -> str:
    """A printable name for a non-string key (a hand-built span; OTLP keys are strings)."""
    try:
        return str(key)
    except Exception:  # an int too long for str(), or a hostile __str__
        return f"<{type(key).__name__} key>"


LayerEntry = tuple[str, Any, tuple[Use, ...]]
# Resource and scope attributes are shared by every span of a ResourceSpans/ScopeSpans,
# so their known keys are picked out once per dict. Entries hold the dict itself, so
# its id cannot be reused while cached; RawSpan is treated as immutable and its dicts
# are not mutated after decoding, which is what makes this safe.
_LAYER_LIMIT = 256
_layer_cache: dict[int, tuple[dict[str, Any], tuple[LayerEntry, ...], tuple[str, ...]]] = {}


def _known_in_layer(layer: dict[str, Any]) -> tuple[tuple[LayerEntry, ...], tuple[str, ...]]:
    """The layer's known entries, and their keys (what :mod:`.plan` keys a plan on)."""
    cached = _layer_cache.get(id(layer))
    if cached is not None and cached[0] is layer:
        return cached[1], cached[2]
    index = KEY_INDEX
    entries = tuple(
        (key, value, info.uses)
        for key, value in layer.items()
        if (info := index.get(key)) is not None
    )
    keys = tuple(key for key, _, _ in entries)
    if len(_layer_cache) >= _LAYER_LIMIT:
        _layer_cache.clear()
    _layer_cache[id(layer)] = (layer, entries, keys)
    return entries, keys


def layer_keys(layer: Any) -> tuple[str, ...]:
    """The known keys of a scope or resource attribute dict, in its order."""
    if type(layer) is dict and layer:
        return _known_in_layer(layer)[1]
    return ()


def scan_attributes(span: RawSpan) -> Scan:
    """Known values (span over scope over resource, SEMCONV 6.0.1) and the span's leftovers."""
    scan = Scan()
    scan_span_keys(scan, span.attributes)
    scan_layer(scan, span.scope.attributes)
    scan_layer(scan, span.resource.attributes)
    for signal in span_signals(span):
        raise_signal(scan.hits, signal)
    return scan


def scan_span_keys(scan: Scan, attributes: Any) -> None:
    """The span's own attributes: known values, woken rows, sorted leftovers."""
    found = scan.found
    hits = scan.hits
    conventions = scan.conventions
    index = KEY_INDEX
    # Keys typed Any, not str: a hand-built span may hold other keys, and a mypyc build
    # would reject them while iterating instead of reporting them.
    attributes = cast("dict[Any, Any]", attributes)
    if type(attributes) is dict:
        for key, value in attributes.items():
            info = index.get(key)
            if info is not None:
                found[key] = value
                if info.convention is not None:
                    conventions.add(info.convention)
                for name, position in info.uses:  # _hit(), inlined for the hot loop
                    rows = hits.get(name)
                    if rows is None:
                        hits[name] = [position]
                    elif position not in rows:
                        rows.append(position)
            elif type(key) is str:
                _sort_into(scan, key, _sorted(key))
            else:
                scan.unmapped.append(_key_text(key))


def scan_layer(scan: Scan, layer: Any) -> None:
    """Scope or resource attributes: known keys the span itself did not set."""
    if type(layer) is dict and layer:
        found = scan.found
        for key, value, uses in _known_in_layer(layer)[0]:
            if key not in found:
                found[key] = value
                if uses:
                    _hit(scan.hits, uses)


def _sort_into(scan: Scan, key: str, verdict: Sorted) -> None:
    kind = verdict.verdict
    if kind == UNMAPPED:
        scan.unmapped.append(key)
    elif kind == FAMILY:
        name = verdict.family
        assert name is not None
        keys = scan.families.get(name)
        if keys is None:
            scan.families[name] = [key]
            _hit(scan.hits, verdict.uses)
        else:
            keys.append(key)
    elif kind == CUSTOM_CONFIDENCE:
        scan.custom_confidence.append(key)
    if verdict.convention is not None:
        scan.conventions.add(verdict.convention)


def span_signals(span: RawSpan) -> tuple[str, ...]:
    """The signals the span itself raises (root, status message, name prefixes), in order."""
    raised: tuple[str, ...] = () if span.parent_span_id else (signals.ROOT,)
    if span.status_message:
        raised += (signals.STATUS_MESSAGE,)
    name = span.name
    if type(name) is str and name.startswith(NAME_PREFIXES):
        for prefix, signal in NAME_SIGNALS:
            if name.startswith(prefix):
                raised += (signal,)
    return raised
