"""Dataset files (CSV or JSONL) read into items, or refused whole with the line at fault.

Both formats carry the same fields: ``id`` (the item's key), ``input`` and
``expected_output``; every other column or field goes into the item's metadata. An
item needs an expected output column, and an ``id`` or an ``input`` to be found by:

- ``id`` present: keys must be unique and non-empty (a duplicate names both lines).
- ``id`` absent: the key is the item's line (JSONL) or data row (CSV) number, 1-based,
  and such a dataset is linked to traces by input (``link: input``).

In CSV an empty cell is no value (CSV has no null); in JSONL non-text values of
``input`` and ``expected_output`` (a JSON Schema object, a number) are kept as their
JSON text. A file is checked whole before anything is stored, so a bad one changes
nothing. The size is bounded (``MAX_UPLOAD_BYTES``, ``MAX_ITEMS``) because the items of
a dataset are held in memory to be linked to traces; a CSV cell is at most 128 KiB
(the ``csv`` module's limit, which is process-wide and left alone), JSONL has no such
limit.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import orjson
from sqlalchemy.engine import Connection

from store.datasets import NewItem, Replaced, dataset_name_problem, replace_items

Format = Literal["csv", "jsonl"]
MAX_UPLOAD_BYTES = 32 * 1024 * 1024
MAX_ITEMS = 100_000
KEY, INPUT, EXPECTED = "id", "input", "expected_output"
_MAX_KEY = 1000
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")

FORMATS_BY_SUFFIX: dict[str, Format] = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
FORMATS_BY_MEDIA_TYPE: dict[str, Format] = {
    "text/csv": "csv",
    "application/csv": "csv",
    "application/x-ndjson": "jsonl",
    "application/jsonl": "jsonl",
    "application/x-jsonlines": "jsonl",
    "application/jsonlines": "jsonl",
}


class DatasetError(ValueError):
    """A file that cannot be a dataset: the message names the line (and column)."""


@dataclass(frozen=True, slots=True)
class Upload:
    name: str
    items: int
    replaced: Replaced


def upload(connection: Connection, project: str, name: str, data: bytes, fmt: Format) -> Upload:
    """Parse ``data`` and make its items the dataset's, in the caller's transaction."""
    problem = dataset_name_problem(name)
    if problem:
        raise DatasetError(problem)
    items = parse(data, fmt)
    return Upload(name, len(items), replace_items(connection, project, name, items))


def parse(data: bytes, fmt: Format) -> list[NewItem]:
    if len(data) > MAX_UPLOAD_BYTES:
        raise DatasetError(f"the file is {len(data):,} bytes, over the {MAX_UPLOAD_BYTES:,} limit")
    text = _decode(data)
    items: list[NewItem] = []
    seen: dict[str, str] = {}
    for item, where in _csv(text) if fmt == "csv" else _jsonl(text):
        first = seen.setdefault(item.key, where)
        if first != where:
            raise DatasetError(f"{where}: duplicate id {_show(item.key)} (first on {first})")
        items.append(item)
    if not items:
        raise DatasetError("the file has no items")
    return items


def _decode(data: bytes) -> str:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise DatasetError(f"line {line}: not UTF-8 text") from None
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise DatasetError(f"line {line}: a NUL character (U+0000) cannot be stored")
    return text


def _csv(text: str) -> Iterator[tuple[NewItem, str]]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as error:
        raise DatasetError(f"line 1: not valid CSV: {error}") from None
    header = [name.strip() for name in header]
    _check_header(header)
    row_number, line = 0, reader.line_num + 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise DatasetError(f"line {line}: not valid CSV: {error}") from None
        if not row:  # a blank line
            line = reader.line_num + 1
            continue
        row_number += 1
        _check_count(row_number)
        if len(row) != len(header):
            raise DatasetError(
                f"line {line} (row {row_number}): {len(row)} fields, the header has {len(header)}"
            )
        cells = {name: value or None for name, value in zip(header, row, strict=True)}
        where = f"line {line} (row {row_number})"
        yield _item(cells, row_number, where, KEY in header), where
        line = reader.line_num + 1


def _check_header(header: list[str]) -> None:
    for index, name in enumerate(header, start=1):
        if not name:
            raise DatasetError(f"line 1, column {index}: a column has no name")
        if header.index(name) != index - 1:
            raise DatasetError(f"line 1, column {index}: column {name!r} appears twice")
    if EXPECTED not in header:
        raise DatasetError(f"line 1: no {EXPECTED!r} column (columns: {', '.join(header)})")
    if KEY not in header and INPUT not in header:
        raise DatasetError(f"line 1: an {KEY!r} or an {INPUT!r} column is needed to find items")


def _jsonl(text: str) -> Iterator[tuple[NewItem, str]]:
    has_key: bool | None = None
    count = 0
    # Not splitlines(): it also splits at U+2028 and others, which JSON strings may hold.
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        count += 1
        _check_count(count)
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError as error:
            raise DatasetError(f"line {number}: not valid JSON: {error}") from None
        if not isinstance(value, dict):
            raise DatasetError(f"line {number}: an item is a JSON object, not {_kind(value)}")
        if EXPECTED not in value:
            raise DatasetError(f"line {number}: no {EXPECTED!r} field")
        if has_key is None:
            has_key = KEY in value
            if not has_key and INPUT not in value:
                raise DatasetError(
                    f"line {number}: an {KEY!r} or an {INPUT!r} field is needed to find items"
                )
        elif has_key != (KEY in value):
            raise DatasetError(
                f"line {number}: {'no' if has_key else 'an'} {KEY!r} field, "
                f"unlike the first item ({'every' if has_key else 'no'} item has one)"
            )
        yield _item(value, number, f"line {number}", has_key), f"line {number}"


def _item(fields: dict[str, Any], position: int, where: str, has_key: bool) -> NewItem:
    key = str(position)
    if has_key:
        key = _key(fields[KEY], where)
    metadata = {name: value for name, value in fields.items() if name not in (KEY, INPUT, EXPECTED)}
    item = NewItem(
        position=position,
        key=key,
        input=_text(fields.get(INPUT)),
        expected_output=_text(fields.get(EXPECTED)),
        metadata=metadata or None,
    )
    # JSON may spell NUL as \u0000 (PostgreSQL cannot store it); orjson writes it so.
    if _JSON_NUL.search(orjson.dumps([item.key, item.input, item.expected_output, item.metadata])):
        raise DatasetError(f"{where}: a NUL character (U+0000) cannot be stored")
    return item


def _key(value: Any, where: str) -> str:
    if value is None:
        raise DatasetError(f"{where}, column {KEY}: the id is empty")
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise DatasetError(
            f"{where}, column {KEY}: an id is text or an integer, not {_kind(value)}"
        )
    key = str(value).strip()
    if not key:
        raise DatasetError(f"{where}, column {KEY}: the id is empty")
    if len(key) > _MAX_KEY:
        raise DatasetError(f"{where}, column {KEY}: the id is over {_MAX_KEY} characters")
    return key


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


def _check_count(count: int) -> None:
    if count > MAX_ITEMS:
        raise DatasetError(f"over {MAX_ITEMS:,} items: split the dataset")


def _show(key: str) -> str:
    return repr(key if len(key) <= 60 else key[:57] + "...")


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    return names.get(type(value), "a number")
