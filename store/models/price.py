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

from store.models.base import Base, IdMixin


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


class CustomPrice(IdMixin, Base):
    """A project's own price for models the registry prices wrongly or not at all (a
    fine-tune, a self-hosted model, a negotiated rate). ``model`` is matched against
    the whole model name, case-insensitively, with ``*`` standing for any run of
    characters: ``ft:gpt-4o-mini:acme:*`` covers that fine-tune's versions and nothing
    else. Consulted before the registry, from ``effective_from`` on."""

    __tablename__ = "custom_prices"

    project_id: Mapped[int] = mapped_column(sa.ForeignKey("projects.id"))
    model: Mapped[str] = mapped_column(sa.Text)
    provider: Mapped[str | None] = mapped_column(sa.Text)  # None: any provider
    # USD per million tokens; a part without its own price stays in its total.
    input_usd_per_mtok: Mapped[float]
    output_usd_per_mtok: Mapped[float]
    cache_read_usd_per_mtok: Mapped[float | None]
    cache_write_usd_per_mtok: Mapped[float | None]
    reasoning_usd_per_mtok: Mapped[float | None]
    effective_from: Mapped[datetime | None]  # None: for every call
    created_at: Mapped[datetime]

    __table_args__ = (sa.Index("ix_custom_prices_project_id", "project_id"),)
