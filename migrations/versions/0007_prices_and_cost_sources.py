"""prices, and each span's reported and computed cost with its source

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-21 21:10:00

Spans stored before this revision keep their reported cost as the cost used (source
"reported"); their computed cost is filled by ``reasonlens reprice``, not here, so the
upgrade of a large store stays a few ALTERs and one UPDATE of the priced spans.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Declared here, not imported from store.types, so this revision never changes.
JSON = sa.Text().with_variant(postgresql.JSONB(), "postgresql")
TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "prices",
        sa.Column("key", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Text(), nullable=False),
        sa.Column("provider", sa.Text(), nullable=True),
        sa.Column("model", sa.Text(), nullable=False),
        sa.Column("definition", JSON, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_prices")),
    )
    # ADD COLUMN of a nullable column: no table rewrite on either database.
    op.add_column("spans", sa.Column("reported_cost_usd", sa.Float(), nullable=True))
    op.add_column("spans", sa.Column("computed_cost_usd", sa.Float(), nullable=True))
    op.add_column("spans", sa.Column("cost_source", sa.String(length=8), nullable=True))
    op.add_column("spans", sa.Column("price_key", sa.String(length=16), nullable=True))
    op.add_column(
        "traces",
        sa.Column("unpriced_count", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
    )
    spans = sa.table(
        "spans",
        sa.column("cost_usd", sa.Float()),
        sa.column("reported_cost_usd", sa.Float()),
        sa.column("cost_source", sa.String()),
    )
    op.execute(
        spans.update()
        .where(spans.c.cost_usd.is_not(None))
        .values(reported_cost_usd=spans.c.cost_usd, cost_source="reported")
    )


def downgrade() -> None:
    # Not batch mode: a rebuilt table would lose the expression index on cost, which
    # cannot be reflected, and rebuilding spans would copy the whole store. SQLite >=
    # 3.35 drops a column in place.
    op.drop_column("traces", "unpriced_count")
    for column in ("price_key", "cost_source", "computed_cost_usd", "reported_cost_usd"):
        op.drop_column("spans", column)
    op.drop_table("prices")
