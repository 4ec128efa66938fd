"""indexes for sorting and filtering traces by cost and duration

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 12:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_traces_project_id_duration_ns", "traces", ["project_id", "duration_ns"])
    op.create_index(
        "ix_traces_project_id_cost_sort",
        "traces",
        ["project_id", sa.text("coalesce(cost_usd, -1.0)")],
    )


def downgrade() -> None:
    op.drop_index("ix_traces_project_id_cost_sort", table_name="traces")
    op.drop_index("ix_traces_project_id_duration_ns", table_name="traces")
