"""A JSON API list as CSV: the dashboard's small tables that have a JSON twin (alerts,
alert rules, schedules, budgets, prices, runaways, known-good versions).

The columns are the item model's fields in their declared order, so the file follows
the API's documented object; a nested value (a rule's figures, a price's tiers) is one
cell of JSON text. Cells go through the one writer, neutralised.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

import orjson
from pydantic import BaseModel

from web.exports.csv_writer import csv_chunks, safe_rows


def model_columns(model: type[BaseModel]) -> tuple[str, ...]:
    return tuple(model.model_fields)


def models_csv(items: Sequence[BaseModel], model: type[BaseModel]) -> Iterator[bytes]:
    columns = model_columns(model)
    rows = ([_value(getattr(item, name)) for name in columns] for item in items)
    return csv_chunks(columns, safe_rows(rows))


def _value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat(timespec="microseconds").replace("+00:00", "Z")
    if isinstance(value, BaseModel):
        return orjson.dumps(value.model_dump(mode="json")).decode()
    if isinstance(value, dict | list):
        return orjson.dumps(value, default=_plain).decode()
    return value


def _plain(value: Any) -> Any:
    return value.model_dump(mode="json") if isinstance(value, BaseModel) else str(value)
