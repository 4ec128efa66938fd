"""Bounded decompression: a bomb stops at the limit without inflating into memory."""

from __future__ import annotations

import gzip
import tracemalloc
import zlib

import pytest

from collector.body import decompress
from collector.errors import InvalidPayload, PayloadTooLarge

LIMIT = 16 * 1024 * 1024


def test_gzip_bomb_never_holds_more_than_the_limit() -> None:
    bomb = gzip.compress(b"\0" * (1 << 30), compresslevel=9)  # 1 GiB inflated, ~1 MB sent
    tracemalloc.start()
    try:
        with pytest.raises(PayloadTooLarge):
            decompress(bomb, "gzip", LIMIT)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 3 * LIMIT  # an unbounded inflate would peak near 1 GiB


def raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


@pytest.mark.parametrize(
    ("body", "encoding"),
    [
        # A fixed mtime: the header's time would give each xdist worker other test ids.
        (gzip.compress(b"abc", mtime=0) + gzip.compress(b"def", mtime=0), "gzip"),  # members
        (zlib.compress(b"abcdef"), "deflate"),  # zlib framing, as HTTP defines deflate
        (raw_deflate(b"abcdef"), "deflate"),  # what some clients send instead
        (b"abcdef", None),
    ],
    ids=["gzip-members", "deflate-zlib", "deflate-raw", "identity"],
)
def test_encodings(body: bytes, encoding: str | None) -> None:
    assert decompress(body, encoding, LIMIT) == b"abcdef"


def test_truncated_gzip_is_invalid() -> None:
    with pytest.raises(InvalidPayload, match="truncated"):
        decompress(gzip.compress(b"abcdef")[:-10], "gzip", LIMIT)
