"""span costs in a narrow table of their own

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-21 23:10:00

A span's cost is derived (usage x price) and changes with the price book; the span is
written once. Re-pricing rewrote whole span rows (message text and all) to change five
small columns; here those columns move to ``span_costs``, keyed by the span's row id
(rows are appended at ingest, not scattered). Only spans that have a cost source get
a row: model calls with usage, and spans that reported a cost. On SQLite each dropped
column rewrites the spans table once.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Declared here, not imported from store.vocabulary, so this revision never changes.
ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
MODEL_CALL_KINDS = ("llm", "embedding")
COST_COLUMNS = ("cost_usd", "reported_cost_usd", "computed_cost_usd", "cost_source", "price_key")
spans = sa.table("spans", *(sa.column(name) for name in ("id", "kind", *COST_COLUMNS)))
span_costs = sa.table(
    "span_costs", *(sa.column(name) for name in ("span_pk", "counted", *COST_COLUMNS))
)


def upgrade() -> None:
    op.create_table(
        "span_costs",
        sa.Column("span_pk", ROW_ID, autoincrement=False, nullable=False),
        sa.Column("counted", sa.Boolean(), nullable=False),
        sa.Column("cost_usd", sa.Float(), nullable=True),
        sa.Column("reported_cost_usd", sa.Float(), nullable=True),
        sa.Column("computed_cost_usd", sa.Float(), nullable=True),
        sa.Column("cost_source", sa.String(length=8), nullable=False),
        sa.Column("price_key", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(
            ["span_pk"], ["spans.id"], name=op.f("fk_span_costs_span_pk_spans"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("span_pk", name=op.f("pk_span_costs")),
    )
    s = spans.c
    op.execute(
        span_costs.insert().from_select(
            ["span_pk", "counted", *COST_COLUMNS],
            sa.select(
                s.id,
                s.kind.in_(MODEL_CALL_KINDS),
                *(s[name] for name in COST_COLUMNS),
            ).where(s.cost_source.is_not(None)),
        )
    )
    for name in COST_COLUMNS:
        op.drop_column("spans", name)


def downgrade() -> None:
    op.add_column("spans", sa.Column("cost_usd", sa.Float(), nullable=True))
    op.add_column("spans", sa.Column("reported_cost_usd", sa.Float(), nullable=True))
    op.add_column("spans", sa.Column("computed_cost_usd", sa.Float(), nullable=True))
    op.add_column("spans", sa.Column("cost_source", sa.String(length=8), nullable=True))
    op.add_column("spans", sa.Column("price_key", sa.String(length=16), nullable=True))
    c = span_costs.c
    same_span = c.span_pk == spans.c.id
    op.execute(
        spans.update()
        .where(sa.exists().where(same_span))
        .values(
            {name: sa.select(c[name]).where(same_span).scalar_subquery() for name in COST_COLUMNS}
        )
    )
    op.drop_table("span_costs")
