"""Putting a store's costs back to how a store upgraded from before costs were computed
holds them: only what clients reported, no trace totals (tests and bench/reprice.py)."""

from __future__ import annotations

import sqlalchemy as sa

from store.models import SpanCost


def forget_computed_costs(connection: sa.Connection, *where: sa.ColumnElement[bool]) -> None:
    """Model calls keep a reported cost only; trace totals are the caller's to reset."""
    connection.execute(sa.delete(SpanCost).where(SpanCost.cost_source != "reported", *where))
    connection.execute(
        sa.update(SpanCost).where(*where).values(computed_cost_usd=None, price_key=None)
    )
