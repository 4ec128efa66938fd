"""The CSV writer's cells a column at a time, over Arrow arrays: the long exports' fast
path on SQLite (``store/arrow_read.py`` reads the record batches).

Each function here writes a column's cells exactly as its namesake in ``csv_writer``
writes one cell (``tests/test_csv_arrow.py`` holds the two paths to the same bytes), in
Arrow's compute kernels: Python handles a batch of rows at a time, never a row (but for
the rare float that Python and Arrow lay out differently, see :func:`number`). A cell
array may hold nulls: a null is an empty cell.

Imports pyarrow at its top: only the export worker process imports it
(``export_process.py``); the server never imports this module.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from web.exports import csv_writer

# A column's cells: an array of them, or the pieces of each (a quoted cell is its
# quotes and its text, joined into the line with the rest, never into a column first).
Piece = pa.Array | str
Cells = Callable[[pa.Array], pa.Array | tuple[Piece, ...]]

# Arrow's own allocator (mimalloc) kept each export thread's freed buffers: the server
# grew by ~90 MB over a spans export and more over the next. The C library's malloc
# gives them back, and the export adds ~40 MB (bench/RESULTS.md, CSV exports).
pa.set_memory_pool(pa.system_memory_pool())

_FORMULA_START = "^[" + "".join("\\-" if c == "-" else c for c in csv_writer.FORMULA_PREFIXES) + "]"
# Whether a first byte starts a formula (the prefixes are ASCII, so a byte is a char).
_STARTS_FORMULA = np.zeros(256, dtype=bool)
_STARTS_FORMULA[[ord(c) for c in csv_writer.FORMULA_PREFIXES]] = True


def plain(values: pa.Array) -> pa.Array:
    """Ids, statuses, kinds: ours, never quoted (``{value or ''}``)."""
    return values


def quoted(values: pa.Array) -> tuple[Piece, ...]:
    """``csv_writer.quoted``: formula-like text disarmed by a leading apostrophe, always
    quoted, double quotes doubled; null stays null (an empty cell), "" is ``""``."""
    text = values if pa.types.is_string(values.type) else values.cast(pa.string())
    formula, quote = _needs_rewrite(text)
    # Each rewrite copies the column: look first, since most columns need neither.
    if formula:
        text = pc.replace_substring_regex(
            text, "(" + _FORMULA_START + ")", "'\\1", max_replacements=1
        )
    if quote:
        text = pc.replace_substring(text, '"', '""')
    marks = _quote_marks(text)
    return marks, text, marks


def _needs_rewrite(text: pa.Array) -> tuple[bool, bool]:
    """Whether any cell may start a formula, and whether any holds a double quote: a
    look at the bytes, a fraction of a compute kernel's cost (a false alarm, say from
    a null's bytes, only costs the kernel)."""
    _, offsets_buffer, data = text.buffers()
    if data is None or not len(text):
        return False, False
    offsets = np.frombuffer(offsets_buffer, np.int32)[text.offset : text.offset + len(text) + 1]
    starts = offsets[:-1][offsets[1:] > offsets[:-1]]
    formula = bool(_STARTS_FORMULA[np.frombuffer(data, np.uint8)[starts]].any())
    # bytes.find is memchr: copying the column's bytes and finding costs less than
    # any scan in place.
    quote = b'"' in memoryview(data)[int(offsets[0]) : int(offsets[-1])].tobytes()
    return formula, quote


def _quote_marks(text: pa.Array) -> Piece:
    """A double quote in each row that holds a value, null (no mark) in each null
    row: the column's own validity over a column of quotes, made once per size."""
    if not text.null_count:
        return '"'
    size = text.offset + len(text)
    offsets, marks = _marks(1 << (size - 1).bit_length())
    validity = text.buffers()[0]
    return pa.Array.from_buffers(
        pa.string(), len(text), [validity, offsets, marks], text.null_count, text.offset
    )


@cache
def _marks(size: int) -> tuple[pa.Buffer, pa.Buffer]:
    return pa.py_buffer(np.arange(size + 1, dtype=np.int32)), pa.py_buffer(b'"' * size)


def integer(values: pa.Array) -> pa.Array:
    return values.cast(pa.string())


def boolean(values: pa.Array) -> pa.Array:
    """SQLite's 0 and 1 as the JSON API writes them."""
    return pc.if_else(pc.not_equal(values, 0), "true", "false")


def number(values: pa.Array) -> pa.Array:
    """``csv_writer.number``, Python's ``repr`` of a float.

    Arrow writes the same shortest round-trip digits, but lays them out otherwise: it
    leaves the ``.0`` off an integral value (``2``), and uses an exponent below 1e-6
    and from 1e10 where Python does below 1e-4 and from 1e16 (``0.000015`` against
    ``1.5e-05``). Between 1e-4 and 1e10 (and 0) the two agree once ``.0`` is added;
    the few values outside (a cost under $0.0001, a duration under 100 ns) are written
    by Python's own ``repr``.
    """
    values = values.cast(pa.float64())
    text = values.cast(pa.string())
    magnitude = pc.abs(values)
    agreed = pc.or_(
        pc.equal(values, 0),
        pc.and_(pc.greater_equal(magnitude, 1e-4), pc.less(magnitude, 1e10)),
    )
    integral = pc.and_(agreed, pc.equal(pc.floor(values), values))
    text = pc.if_else(integral, pc.binary_join_element_wise(text, ".0", ""), text)
    apart = pc.fill_null(pc.invert(agreed), False)
    if pc.any(apart).as_py():
        written = [repr(value) for value in pc.filter(values, apart).to_pylist()]
        text = pc.replace_with_mask(text, apart, pa.array(written, pa.string()))
    return text


def milliseconds(values: pa.Array) -> pa.Array:
    """Integer nanoseconds as ``ns / 1e6`` (a float, as ``number``)."""
    return number(pc.divide(values.cast(pa.float64(), safe=False), 1e6))


def iso(values: pa.Array) -> pa.Array:
    """``csv_writer.iso``: integer ns as ISO 8601 UTC with microseconds (truncated)."""
    if pc.any(pc.less(values, 0)).as_py():
        # Arrow truncates toward zero, where a time before 1970 rounds down; the store
        # holds none (OTLP times are unsigned), but the cell is the same either way.
        return pa.array([csv_writer.iso(ns) if ns is not None else None
                         for ns in values.to_pylist()], pa.string())  # fmt: skip
    micros = values.cast(pa.timestamp("ns")).cast(pa.timestamp("us"), safe=False)
    # Arrow's cast writes "2026-01-31 12:00:00.000001": a tenth of strftime's cost.
    text = pc.replace_substring(micros.cast(pa.string()), " ", "T", max_replacements=1)
    return pc.binary_join_element_wise(text, "Z", "")


def named(names: Mapping[int, str]) -> Cells:
    """A project id as its name's cell: the names are looked up once per range."""
    ids = pa.array(list(names), pa.int64())
    cells = pa.array([csv_writer.quoted(name) for name in names.values()], pa.string())
    return lambda values: pc.take(cells, pc.index_in(values, value_set=ids))


def lines_bytes(batch: pa.RecordBatch, layout: Sequence[tuple[str, Cells]]) -> bytes:
    """The batch's records in ``layout`` order (a column name and its cell writer per
    cell), CRLF after each, as UTF-8 bytes: ``csv_writer.lines_bytes`` of the same
    rows."""
    pieces: list[Piece] = []
    for name, cells in layout:
        written = cells(batch.column(name))
        pieces += (*written, ",") if isinstance(written, tuple) else (written, ",")
    pieces[-1] = "\r\n"
    lines = pc.binary_join_element_wise(*pieces, "", null_handling="replace", null_replacement="")
    _, offsets_buffer, data = lines.buffers()
    offsets = pa.Array.from_buffers(pa.int32(), len(lines) + 1, [None, offsets_buffer],
                                    offset=lines.offset)  # fmt: skip
    return data[offsets[0].as_py() : offsets[-1].as_py()].to_pybytes()
