"""The prices that priced stored spans, for explaining their costs."""

from __future__ import annotations

from collections.abc import Collection

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from store.models import PriceRecord
from store.pricing.prices import Price


def prices_by_key(connection: Connection, keys: Collection[str | None]) -> dict[str, Price]:
    wanted = sorted({key for key in keys if key})
    if not wanted:
        return {}
    rows = connection.execute(
        sa.select(PriceRecord.key, PriceRecord.definition).where(PriceRecord.key.in_(wanted))
    )
    return {key: Price.from_json(definition) for key, definition in rows}
