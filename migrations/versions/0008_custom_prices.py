"""custom prices per project; unpriced_count in the overview's covering index

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
# ix_traces_analytics as revision 0004 made it.
ANALYTICS = (
    "project_id", "agent_name", "agent_version", "start_time_ns", "status", "escalated",
    "duration_ns", "cost_usd", "input_tokens", "output_tokens", "llm_call_count",
    "tool_call_count", "trace_id",
)  # fmt: skip


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
    # The overview counts unpriced traces per agent version from this index alone.
    op.drop_index("ix_traces_analytics", table_name="traces")
    op.create_index(
        "ix_traces_analytics", "traces", [*ANALYTICS[:8], "unpriced_count", *ANALYTICS[8:]]
    )


def downgrade() -> None:
    op.drop_index("ix_traces_analytics", table_name="traces")
    op.create_index("ix_traces_analytics", "traces", list(ANALYTICS))
    op.drop_index("ix_custom_prices_project_id", table_name="custom_prices")
    op.drop_table("custom_prices")
