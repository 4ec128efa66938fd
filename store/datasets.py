"""Datasets and their items (``store/models/dataset.py``): replaced whole, read by name.

An upload replaces every item of the dataset in the caller's transaction, so a reader
sees the old items or the new ones, never a mix, and a file refused half way (the
caller rolls back) changes nothing. Parsing and checking a file is ``evals/datasets.py``'s
job; by the time items arrive here their keys are known to be unique.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from store import dialect
from store.models import Dataset, DatasetItem
from store.projects import ensure_projects

MAX_DATASET_NAME = 200
# Names travel in URL paths (/api/datasets/{name}/items) and suite YAML unquoted.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
# Rows per INSERT: bounded so one statement's parameters (6 a row) stay far below
# SQLite's 32,766 and the driver's buffers small.
_INSERT_ROWS = 2000


@dataclass(frozen=True, slots=True)
class NewItem:
    position: int  # the line (JSONL) or row (CSV) it came from, 1-based
    key: str
    input: str | None
    expected_output: str | None
    metadata: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class Item:
    position: int
    key: str
    input: str | None
    expected_output: str | None
    metadata: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class DatasetInfo:
    id: int
    name: str
    description: str | None
    item_count: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Replaced:
    """What an upload did: the dataset's items now, and how many it had before."""

    dataset_id: int
    created: bool
    items: int
    previous_items: int


def dataset_name_problem(name: object) -> str | None:
    """Why ``name`` cannot name a dataset, or None."""
    if not isinstance(name, str) or not name:
        return "a dataset name must be a non-empty string"
    if len(name) > MAX_DATASET_NAME:
        return f"a dataset name must be at most {MAX_DATASET_NAME} characters"
    if not _NAME.fullmatch(name):
        return (
            "a dataset name is letters, digits, '_', '.' and '-', starting with a letter "
            f"or digit: not {name!r}"
        )
    return None


def replace_items(
    connection: Connection,
    project: str,
    name: str,
    items: Sequence[NewItem],
    description: str | None = None,
) -> Replaced:
    """Create the dataset if needed and make ``items`` its only items.

    The dataset row is upserted first: on PostgreSQL that locks it, so two uploads of
    one dataset run one after the other instead of interleaving their items.
    """
    problem = dataset_name_problem(name)
    if problem:
        raise ValueError(problem)
    project_id = ensure_projects(connection, [project])[project]
    now = datetime.now(UTC)
    existed = get_dataset(connection, project_id, name) is not None
    values: dict[str, Any] = {"updated_at": now, "item_count": len(items)}
    if description is not None:
        values["description"] = description
    connection.execute(
        dialect.insert(connection, Dataset.__table__).on_conflict_do_update(
            index_elements=["project_id", "name"], set_=values
        ),
        {
            "project_id": project_id,
            "name": name,
            "description": description,
            "item_count": len(items),
            "created_at": now,
            "updated_at": now,
        },
    )
    dataset_id = int(
        connection.execute(
            sa.select(Dataset.id).where(Dataset.project_id == project_id, Dataset.name == name)
        ).scalar_one()
    )
    deleted = connection.execute(sa.delete(DatasetItem).where(DatasetItem.dataset_id == dataset_id))
    for start in range(0, len(items), _INSERT_ROWS):
        connection.execute(
            sa.insert(DatasetItem),
            [
                {
                    "dataset_id": dataset_id,
                    "position": item.position,
                    "item_key": item.key,
                    "input": item.input,
                    "expected_output": item.expected_output,
                    "item_metadata": item.metadata,
                }
                for item in items[start : start + _INSERT_ROWS]
            ],
        )
    return Replaced(dataset_id, not existed, len(items), max(deleted.rowcount, 0))


def get_dataset(connection: Connection, project_id: int, name: str) -> DatasetInfo | None:
    row = connection.execute(
        _INFO.where(Dataset.project_id == project_id, Dataset.name == name)
    ).first()
    return DatasetInfo(*row) if row else None


def list_datasets(connection: Connection, project_id: int) -> list[DatasetInfo]:
    rows = connection.execute(_INFO.where(Dataset.project_id == project_id).order_by(Dataset.name))
    return [DatasetInfo(*row) for row in rows]


def read_items(
    connection: Connection, dataset_id: int, *, after: int = 0, limit: int | None = None
) -> list[Item]:
    """Items in file order, from the one after position ``after`` (keyset paging)."""
    query = (
        sa.select(
            DatasetItem.position,
            DatasetItem.item_key,
            DatasetItem.input,
            DatasetItem.expected_output,
            DatasetItem.item_metadata,
        )
        .where(DatasetItem.dataset_id == dataset_id, DatasetItem.position > after)
        .order_by(DatasetItem.position)
    )
    if limit is not None:
        query = query.limit(limit)
    return [Item(*row) for row in connection.execute(query)]


_INFO = sa.select(
    Dataset.id,
    Dataset.name,
    Dataset.description,
    Dataset.item_count,
    Dataset.created_at,
    Dataset.updated_at,
)
