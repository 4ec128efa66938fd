"""span costs in a narrow table of their own

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-21 23:10:00

A span's cost is derived (usage x price) and changes with the price book; the span is
written once. Re-pricing rewrote whole span rows (message text and all) to change five
small columns; here those columns move to ``span_costs``, keyed like the span. Only
spans that have a cost source get a row: model calls with usage, and spans that
reported a cost. On SQLite each dropped column rewrites the spans table once.
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
KEY = ("project_id", "trace_id", "span_id")

spans = sa.table(
    "spans",
    *(sa.column(name) for name in (*KEY, "kind", *COST_COLUMNS)),
)
span_costs = sa.table(
    "span_costs",
    *(sa.column(name) for name in (*KEY, "counted", *COST_COLUMNS)),
)


def upgrade() -> None:
    op.create_table(
        "span_costs",
        sa.Column("project_id", ROW_ID, nullable=False),
        sa.Column("trace_id", sa.String(length=32), nullable=False),
        sa.Column("span_id", sa.String(length=16), nullable=False),
        sa.Column("counted", sa.Boolean(), nullable=False),
        sa.Column("cost_usd", sa.Float(), nullable=True),
        sa.Column("reported_cost_usd", sa.Float(), nullable=True),
        sa.Column("computed_cost_usd", sa.Float(), nullable=True),
        sa.Column("cost_source", sa.String(length=8), nullable=False),
        sa.Column("price_key", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_span_costs_project_id_projects")
        ),
        sa.PrimaryKeyConstraint(*KEY, name=op.f("pk_span_costs")),
        sqlite_with_rowid=False,
    )
    s = spans.c
    op.execute(
        span_costs.insert().from_select(
            [*KEY, "counted", *COST_COLUMNS],
            sa.select(
                s.project_id,
                s.trace_id,
                s.span_id,
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
    same_span = sa.and_(*(c[name] == spans.c[name] for name in KEY))
    op.execute(
        spans.update()
        .where(sa.exists().where(same_span))
        .values(
            {name: sa.select(c[name]).where(same_span).scalar_subquery() for name in COST_COLUMNS}
        )
    )
    op.drop_table("span_costs")
