"""The CSV writer's cells, without a server: whatever the text, a spreadsheet reads it
back as it was (or with the apostrophe that disarms a formula), and the fast time
format is the JSON API's."""

from __future__ import annotations

import csv
import io

from hypothesis import given
from hypothesis import strategies as st

from web.exports.csv_writer import (
    FORMULA_PREFIXES,
    cell,
    csv_chunks,
    iso,
    line_chunks,
    number,
    quoted,
)
from web.serialize import iso_time

MAX_NS = 253_402_300_799_999_999_999  # 9999-12-31T23:59:59.999999999Z


def parse(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("utf-8"), newline="")))


def disarmed(text: str) -> str:
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


@given(st.lists(st.lists(st.text(), min_size=3, max_size=3), max_size=20))
def test_quoted_lines_read_back_as_written(rows: list[list[str]]) -> None:
    lines = (",".join(quoted(value) for value in row) for row in rows)
    parsed = parse(b"".join(line_chunks(["a", "b", "c"], lines)))
    assert parsed == [["a", "b", "c"], *([disarmed(v) for v in row] for row in rows)]


@given(st.lists(st.lists(st.text() | st.none() | st.booleans() | st.integers(), min_size=2,
                         max_size=2), max_size=20))  # fmt: skip
def test_report_rows_read_back_as_written(rows: list[list[object]]) -> None:
    parsed = parse(b"".join(csv_chunks(["a", "b"], ([cell(v) for v in row] for row in rows))))
    assert parsed[1:] == [[str(cell(v)) for v in row] for row in rows]


@given(st.text())
def test_no_cell_starts_like_a_formula(text: str) -> None:
    assert not quoted(text).strip('"').startswith(FORMULA_PREFIXES)
    value = cell(text)
    assert not str(value).startswith(FORMULA_PREFIXES)


def test_null_and_empty_differ() -> None:
    assert (quoted(None), quoted("")) == ("", '""')
    assert (number(None), number(0.25), number(3)) == ("", "0.25", "3")


@given(st.integers(min_value=0, max_value=MAX_NS))
def test_the_fast_time_is_the_apis(ns: int) -> None:
    assert iso(ns) == iso_time(ns)


def test_large_exports_come_in_chunks() -> None:
    chunks = list(line_chunks(["a"], ('"' + "x" * 100 + '"' for _ in range(10_000))))
    assert len(chunks) > 10 and all(len(chunk) < 70 * 1024 for chunk in chunks)
    assert len(parse(b"".join(chunks))) == 10_001
