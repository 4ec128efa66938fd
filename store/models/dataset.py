"""Datasets: expected outputs a team uploads (CSV or JSONL) to score an agent against.

An item is linked to the traces it grades by its key (an id attribute the agent sets)
or by its input (the trace's input, normalized). Items are replaced whole on upload,
so a dataset always reads as the last file uploaded.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from store.models.base import Base, IdMixin


class Dataset(IdMixin, Base):
    __tablename__ = "datasets"

    project_id: Mapped[int] = mapped_column(sa.ForeignKey("projects.id"))
    name: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str | None] = mapped_column(sa.Text)
    item_count: Mapped[int]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    __table_args__ = (sa.Index("uq_datasets_project_id_name", "project_id", "name", unique=True),)


class DatasetItem(IdMixin, Base):
    __tablename__ = "dataset_items"

    dataset_id: Mapped[int] = mapped_column(sa.ForeignKey("datasets.id"))
    position: Mapped[int]  # the line or row it came from, 1-based
    item_key: Mapped[str] = mapped_column(sa.Text)
    input: Mapped[str | None] = mapped_column(sa.Text)
    expected_output: Mapped[str | None] = mapped_column(sa.Text)
    item_metadata: Mapped[dict[str, Any] | None]

    __table_args__ = (
        sa.Index("uq_dataset_items_dataset_id_item_key", "dataset_id", "item_key", unique=True),
    )
