"""Keeping a project's custom prices (``store/models/price.py``; matching is in
``store/pricing/custom.py``). Prices are added and deleted, never edited: a stored
cost names the price that computed it, and a changed price is a new one."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from store.models import CustomPrice
from store.projects import ensure_projects


@dataclass(frozen=True, slots=True)
class NewCustomPrice:
    model: str
    input_usd_per_mtok: float
    output_usd_per_mtok: float
    provider: str | None = None
    cache_read_usd_per_mtok: float | None = None
    cache_write_usd_per_mtok: float | None = None
    reasoning_usd_per_mtok: float | None = None
    effective_from: datetime | None = None


def add_custom_price(connection: Connection, project: str, price: NewCustomPrice) -> int:
    project_id = ensure_projects(connection, [project])[project]
    return int(
        connection.execute(
            sa.insert(CustomPrice)
            .values(project_id=project_id, created_at=datetime.now(UTC), **asdict(price))
            .returning(CustomPrice.id)
        ).scalar_one()
    )


def custom_prices(session: Session, project_id: int) -> list[CustomPrice]:
    return list(
        session.scalars(
            sa.select(CustomPrice)
            .where(CustomPrice.project_id == project_id)
            .order_by(CustomPrice.model, CustomPrice.effective_from, CustomPrice.id)
        )
    )


def delete_custom_price(connection: Connection, price_id: int) -> bool:
    deleted = connection.execute(sa.delete(CustomPrice).where(CustomPrice.id == price_id))
    return bool(deleted.rowcount)
