"""What one OTLP request may carry, and what happens past each limit.

    limit (setting)                 past it
    max_body_bytes                  413; nothing stored (collector/body.py)
    max_items (spans or log         413; nothing stored: the decoders count before
      records per request)          decoding, and a batch cut at an arbitrary span
                                    would leave traces half stored with nothing to retry
    max_value_depth                 400 naming the value; nothing stored (the decoders)
    max_attributes (per span,       the first N kept, the others counted in the
      event, link, record, scope    item's dropped_attributes_count, and told in
      or resource)                  partial_success (rejected: 0)
    max_value_bytes (any string     cut at the limit (UTF-8), "…[truncated N bytes]"
      the client sends)             appended, the rest of the span kept; told in
                                    partial_success

Both decoders apply the count, the depth and the string length as they build the domain
objects (a string is measured where it is made: a second walk over every value cost
~5% of a decode worker, measured), and :mod:`collector.limit_items` the attribute
count, on what both encodings (and gRPC) produce; so every door answers alike. In a
body too small to hold a string over the limit, no string is measured at all
(:func:`reading_for`).

Identifiers the store indexes (model, tool, agent, version, session, service, an
agent's evaluator name) are capped much lower, at :data:`MAX_INDEXED_CHARS`, by
:func:`indexed`: PostgreSQL refuses a B-tree entry over ~2.7 kB, which failed the
whole transaction. Only the canonical column is cut; the raw attribute keeps the value.
"""

from __future__ import annotations

from dataclasses import dataclass

from collector.decoded import MAX_VALUE_DEPTH
from collector.errors import PayloadTooLarge

MARKER = "…[truncated {} bytes]"
MAX_INDEXED_CHARS = 256


@dataclass(frozen=True, slots=True)
class Limits:
    """The per-request limits, from the settings of the same names (``reasonlens/settings.py``)."""

    max_body_bytes: int = 16 << 20
    max_items: int = 50_000
    max_attributes: int = 1024
    max_value_bytes: int = 1 << 20
    max_value_depth: int = MAX_VALUE_DEPTH


DEFAULT_LIMITS = Limits()


def check_count(count: int, limits: Limits, noun: str) -> None:
    """Refuse a request carrying more spans (or log records) than ``limits`` allow."""
    if count > limits.max_items:
        raise PayloadTooLarge(
            f"request carries {count} {noun}s, over the limit of {limits.max_items} per request "
            "(REASONLENS_MAX_SPANS_PER_REQUEST); nothing was stored: send smaller batches"
        )


def indexed(text: str | None) -> str | None:
    """A canonical column the store indexes, cut to :data:`MAX_INDEXED_CHARS`."""
    if text is None or len(text) <= MAX_INDEXED_CHARS:
        return text
    return f"{text[:MAX_INDEXED_CHARS]}…[truncated {len(text) - MAX_INDEXED_CHARS} chars]"


class Cutter:
    """Truncates strings over ``limit`` UTF-8 bytes and counts what it cut."""

    __slots__ = ("bytes_cut", "limit", "quick", "values_cut")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        # A string of at most this many characters is at most ``limit`` bytes in UTF-8
        # (four bytes a character at most): no encoding needed to know it fits.
        self.quick = limit // 4
        self.values_cut = 0
        self.bytes_cut = 0

    def text(self, text: str) -> str:
        if len(text) <= self.quick:
            return text
        # surrogatepass: a str built in memory may hold a lone surrogate (never one
        # decoded from the wire, which protobuf and orjson both refuse).
        raw = text.encode("utf-8", "surrogatepass")
        if len(raw) <= self.limit:
            return text
        # "ignore" drops a character the cut split in two.
        kept = raw[: self.limit].decode("utf-8", "ignore")
        cut = len(raw) - len(kept.encode("utf-8", "surrogatepass"))
        self.values_cut += 1
        self.bytes_cut += cut
        return kept + MARKER.format(cut)


@dataclass(frozen=True, slots=True)
class Reading:
    """How the decoders read a request's values: nested at most ``depth`` levels (past
    it, the request is refused), strings cut by ``cut`` (None: none can be too long)."""

    depth: int = MAX_VALUE_DEPTH
    cut: Cutter | None = None


PLAIN = Reading()


def reading_for(limits: Limits, body_bytes: int | None) -> Reading:
    """The reading of a body of ``body_bytes`` (None: unknown, a message built in memory).

    A decoded string is never longer in UTF-8 than in the body: protobuf carries it as
    is, and a JSON escape is longer than what it stands for. Only protobuf's bytes_value
    grows, by a third, into base64 text. So in a body under three quarters of
    ``max_value_bytes`` (768 KiB with the default 1 MiB: most SDK batches) no string is
    measured at all; in a larger one each is, as the decoder makes it.
    """
    if body_bytes is not None and (body_bytes + 2) // 3 * 4 <= limits.max_value_bytes:
        return Reading(limits.max_value_depth)
    return Reading(limits.max_value_depth, Cutter(limits.max_value_bytes))
