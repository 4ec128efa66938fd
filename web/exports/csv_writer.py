"""The one CSV writer: RFC 4180, UTF-8, header first, cells safe in a spreadsheet.

Every export (API, dashboard link, CLI) hands this module a header and its rows (the
small reports, :func:`csv_chunks`) or lines it wrote with this module's cell functions
(the long exports, :func:`line_chunks`), and gets bytes back in ~64 KB chunks, written
as the rows are read, so a 1,000,000-row export keeps memory flat and its first byte
leaves at once.

Cells hold text that models, tools and whoever wrote a fetched web page chose, and the
file is meant to be opened in a spreadsheet: a text cell that starts like a formula
(``=``, ``+``, ``-``, ``@``, tab, carriage return) gets a leading apostrophe (OWASP's
CSV injection advice), so it shows as text and never runs.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_STARTS = frozenset(FORMULA_PREFIXES)
_FLUSH_CHARS = 64 * 1024  # one write to the socket per ~64 KB, not per row
_UNSAFE_IN_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")
MEDIA_TYPE = "text/csv; charset=utf-8"


def cell(value: Any) -> Any:
    """A value as a CSV cell: None is empty (CSV has no null), booleans read as in the
    JSON API, formula-like text is neutralised. Numbers pass as they are: they are
    ours, never a formula (a negative number is a number, not ``-cmd``)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


# The long exports (traces, spans, scores) write their lines with these three rather
# than the csv module: its per-character quoting loop ran at ~45 MB/s on span text,
# where str.replace (one C pass) does not show (bench/csv_export.py).


def quoted(value: str | None) -> str:
    """Untrusted text as a cell: neutralised, always quoted (RFC 4180 allows it), its
    double quotes doubled. Null is an empty cell, the empty string ``""``."""
    if value is None:
        return ""
    if value[:1] in _FORMULA_STARTS:
        value = "'" + value
    return '"' + value.replace('"', '""') + '"'


def number(value: float | None) -> str:
    """A float (or integer) as Python and the JSON API write it; null is empty."""
    return "" if value is None else repr(value)


_NS_PER_S = 1_000_000_000
_EPOCH = datetime(1970, 1, 1)
_seconds: dict[int, str] = {}


def iso(ns: int) -> str:
    """``web.serialize.iso_time`` (ISO 8601 UTC, microseconds) at a sixth of its cost:
    an export's times crowd into few seconds, so each second is written once and looked
    up after, and only the fraction is arithmetic."""
    second, fraction = divmod(ns, _NS_PER_S)
    text = _seconds.get(second)
    if text is None:
        if len(_seconds) >= 100_000:  # a long export over a long time: start afresh
            _seconds.clear()
        text = _seconds[second] = f"{_EPOCH + timedelta(seconds=second):%Y-%m-%dT%H:%M:%S}."
    return f"{text}{fraction // 1000:06d}Z"


def header_bytes(header: Sequence[str]) -> bytes:
    """A long export's header record (column names are ours: no quoting needed)."""
    return (",".join(header) + "\r\n").encode()


def lines_bytes(lines: Iterable[str]) -> bytes:
    """Lines written with :func:`quoted`, :func:`number` and :func:`iso` as records:
    CRLF after each, UTF-8."""
    return "".join([line + "\r\n" for line in lines]).encode()


def csv_chunks(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[bytes]:
    """The rows as RFC 4180 CSV (CRLF line ends, minimal double-quote quoting), UTF-8
    without a byte-order mark, header first. Rows must already hold safe cells
    (:func:`cell`): this function only frames them."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(header)
    for row in rows:
        writer.writerow(row)
        if buffer.tell() >= _FLUSH_CHARS:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


def line_chunks(header: Sequence[str], lines: Iterable[str]) -> Iterator[bytes]:
    """Lines already written as safe CSV (:func:`quoted`, :func:`number`, :func:`iso`),
    framed as :func:`csv_chunks` frames rows: header first, CRLF after every record."""
    batch: list[str] = []
    size = 0
    batch.append(",".join(header))
    for line in lines:
        batch.append(line)
        size += len(line)
        if size >= _FLUSH_CHARS:
            batch.append("")
            yield "\r\n".join(batch).encode()
            batch, size = [], 0
    if batch:
        batch.append("")
        yield "\r\n".join(batch).encode()


def safe_rows(rows: Iterable[Sequence[Any]]) -> Iterator[list[Any]]:
    """Every cell through :func:`cell`: for small reports whose columns are mixed."""
    for row in rows:
        yield [cell(value) for value in row]


def filename(kind: str, qualifier: str | None, now: datetime | None = None) -> str:
    """``{kind}-{qualifier}-{UTC time}.csv`` with anything unsafe in a file name dashed."""
    name = _UNSAFE_IN_FILENAME.sub("-", qualifier).strip("-") if qualifier else ""
    moment = now or datetime.now(UTC)
    return f"{kind}-{name or 'all'}-{moment:%Y%m%dT%H%M%SZ}.csv"


def write_file(path: Path, chunks: Iterable[bytes]) -> int:
    """Write the chunks to ``path`` (replaced whole only once complete); the byte count."""
    partial = path.with_name(path.name + ".partial")
    written = 0
    try:
        with partial.open("wb") as out:
            for chunk in chunks:
                out.write(chunk)
                written += len(chunk)
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    return written
