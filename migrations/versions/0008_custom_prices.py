"""custom prices per project

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-21 21:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "custom_prices",
        sa.Column("project_id", ROW_ID, nullable=False),
        sa.Column("model", sa.Text(), nullable=False),
        sa.Column("provider", sa.Text(), nullable=True),
        sa.Column("input_usd_per_mtok", sa.Float(), nullable=False),
        sa.Column("output_usd_per_mtok", sa.Float(), nullable=False),
        sa.Column("cache_read_usd_per_mtok", sa.Float(), nullable=True),
        sa.Column("cache_write_usd_per_mtok", sa.Float(), nullable=True),
        sa.Column("reasoning_usd_per_mtok", sa.Float(), nullable=True),
        sa.Column("effective_from", TIME, nullable=True),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("id", ROW_ID, autoincrement=True, nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_custom_prices_project_id_projects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_custom_prices")),
    )
    op.create_index("ix_custom_prices_project_id", "custom_prices", ["project_id"])


def downgrade() -> None:
    op.drop_index("ix_custom_prices_project_id", table_name="custom_prices")
    op.drop_table("custom_prices")
