"""Request bodies: which OTLP signal, in which encoding, and bounded decompression.

The size limit applies after decompression (OTLP spec), and decompression is streamed
with ``max_length`` so a gzip bomb stops at the limit instead of filling memory.
"""

from __future__ import annotations

import zlib
from enum import Enum

from collector.errors import InvalidPayload, PayloadTooLarge, UnsupportedMediaType


class Signal(Enum):
    """The OTLP signal a request carries (its path on HTTP, its service on gRPC)."""

    TRACES = "traces"
    LOGS = "logs"


class Encoding(Enum):
    PROTOBUF = "application/x-protobuf"
    JSON = "application/json"


def media_type(content_type: str | None) -> Encoding:
    """Pick the decoder from Content-Type; parameters such as charset are ignored."""
    base = (content_type or "").split(";", 1)[0].strip().lower()
    for encoding in Encoding:
        if base == encoding.value:
            return encoding
    raise UnsupportedMediaType(
        f"unsupported content type {content_type!r}: "
        "send application/x-protobuf or application/json"
    )


# wbits per Content-Encoding: gzip framing, zlib framing ("deflate" as HTTP defines it);
# raw deflate streams, which some clients send as "deflate", are retried below.
_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}
_CHUNK = 1 << 20


def decompress(body: bytes, content_encoding: str | None, limit: int) -> bytes:
    encoding = (content_encoding or "identity").strip().lower()
    if encoding in ("", "identity"):
        if len(body) > limit:
            raise PayloadTooLarge(_too_large(limit))
        return body
    wbits = _WBITS.get(encoding)
    if wbits is None:
        raise InvalidPayload(
            f"unsupported Content-Encoding {content_encoding!r}: use gzip, deflate or identity"
        )
    try:
        return _inflate(body, wbits, limit)
    except zlib.error as error:
        if encoding == "deflate":
            try:
                return _inflate(body, -zlib.MAX_WBITS, limit)
            except zlib.error:
                pass
        raise InvalidPayload(f"body is not valid {encoding} data: {error}") from None


def _inflate(body: bytes, wbits: int, limit: int) -> bytes:
    out = bytearray()
    data = body
    while True:  # one pass per gzip member: concatenated members are one valid stream
        inflater = zlib.decompressobj(wbits)
        while not inflater.eof:
            # Never ask for more than one byte past the limit: that byte proves overflow.
            chunk = inflater.decompress(data, min(_CHUNK, limit + 1 - len(out)))
            out += chunk
            if len(out) > limit:
                raise PayloadTooLarge(_too_large(limit))
            data = inflater.unconsumed_tail
            if not data and not chunk and not inflater.eof:
                raise zlib.error("truncated stream")
        data = inflater.unused_data
        if not data or wbits != _WBITS["gzip"]:
            return bytes(out)


def _too_large(limit: int) -> str:
    return f"request body exceeds the limit of {limit} bytes after decompression"
