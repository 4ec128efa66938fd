"""the agent's own outcome of its task, on spans and traces; in the overview's index

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-21 23:30:00

Traces stored before keep a null outcome (their status decides their success).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# ix_traces_analytics as revision 0008 made it.
ANALYTICS = (
    "project_id", "agent_name", "agent_version", "start_time_ns", "status", "escalated",
    "duration_ns", "cost_usd", "unpriced_count", "input_tokens", "output_tokens",
    "llm_call_count", "tool_call_count", "trace_id",
)  # fmt: skip


def upgrade() -> None:
    op.add_column("spans", sa.Column("outcome", sa.String(length=8), nullable=True))
    op.add_column("traces", sa.Column("outcome", sa.String(length=8), nullable=True))
    op.drop_index("ix_traces_analytics", table_name="traces")
    op.create_index("ix_traces_analytics", "traces", [*ANALYTICS[:5], "outcome", *ANALYTICS[5:]])


def downgrade() -> None:
    op.drop_index("ix_traces_analytics", table_name="traces")
    op.create_index("ix_traces_analytics", "traces", list(ANALYTICS))
    op.drop_column("traces", "outcome")
    op.drop_column("spans", "outcome")
