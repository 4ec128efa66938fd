"""budgets per project or agent; runaway traces

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-21 23:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "budgets",
        sa.Column("project_id", ROW_ID, nullable=False),
        sa.Column("agent_name", sa.Text(), nullable=True),
        sa.Column("period", sa.String(length=8), nullable=False),
        sa.Column("limit_usd", sa.Float(), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("id", ROW_ID, autoincrement=True, nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_budgets_project_id_projects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_budgets")),
    )
    op.create_index("ix_budgets_project_id", "budgets", ["project_id"])
    op.create_table(
        "runaways",
        sa.Column("project_id", ROW_ID, nullable=False),
        sa.Column("trace_id", sa.String(length=32), nullable=False),
        sa.Column("baseline", sa.String(length=8), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("flagged_at", TIME, nullable=False),
        sa.Column("steps", sa.BigInteger(), nullable=False),
        sa.Column("tokens", sa.BigInteger(), nullable=False),
        sa.Column("steps_limit", sa.Float(), nullable=False),
        sa.Column("tokens_limit", sa.Float(), nullable=False),
        sa.Column("baseline_traces", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_runaways_project_id_projects")
        ),
        sa.PrimaryKeyConstraint("project_id", "trace_id", name=op.f("pk_runaways")),
    )
    op.create_index("ix_runaways_project_id_flagged_at", "runaways", ["project_id", "flagged_at"])


def downgrade() -> None:
    op.drop_index("ix_runaways_project_id_flagged_at", table_name="runaways")
    op.drop_table("runaways")
    op.drop_index("ix_budgets_project_id", table_name="budgets")
    op.drop_table("budgets")
