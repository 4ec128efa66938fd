"""Prices as they priced spans: immutable, named by a digest of their content.

A span's ``price_key`` names the row here that computed its cost, so the cost can be
explained line by line (tokens x unit price, the source and its version) long after
the registry or a custom price has changed. Rows are only ever added.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from store.models.base import Base


class PriceRecord(Base):
    __tablename__ = "prices"

    key: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    source: Mapped[str] = mapped_column(sa.String(32))  # genai-prices | custom
    version: Mapped[str] = mapped_column(sa.Text)
    provider: Mapped[str | None] = mapped_column(sa.Text)
    model: Mapped[str] = mapped_column(sa.Text)
    # store.pricing.prices.Price.as_json(): unit prices per token type, tiers.
    definition: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
