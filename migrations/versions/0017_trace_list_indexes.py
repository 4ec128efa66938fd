"""the trace list's indexes: walks that carry the filtered columns, and sorts by tokens
and by span count

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-22 15:10:00

A filter the planner cannot estimate (SQLite keeps no histogram) used to cost a walk of
the project's traces in the list's order with a row read for each: 0.25-0.4 s on a
160,000-trace project when few traces match. The newest-first walk's index now holds
the agent, version, duration and cost, and the duration and cost sorts' indexes the
agent and version, so a trace that fails those filters is passed over in the index
(14-27 ms for a whole walk), and a row is read only for a match. ``id`` follows the
sort key so each index still gives the list's order (key, then id) whole.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COST = sa.text("coalesce(cost_usd, -1.0)")
WALK = ["project_id", "start_time_ns", "id", "agent_name", "agent_version", "duration_ns"]
AGENT = ["id", "agent_name", "agent_version"]


def upgrade() -> None:
    op.create_index("ix_traces_project_time_filters", "traces", [*WALK, "cost_usd"])
    op.drop_index("ix_traces_project_id_start_time_ns", table_name="traces")
    _replace("ix_traces_project_id_duration_ns", ["project_id", "duration_ns", *AGENT])
    _replace("ix_traces_project_id_cost_sort", ["project_id", COST, *AGENT])
    op.create_index(
        "ix_traces_project_id_tokens_sort",
        "traces",
        ["project_id", sa.text("(input_tokens + output_tokens)")],
    )
    op.create_index("ix_traces_project_id_span_count", "traces", ["project_id", "span_count"])


def downgrade() -> None:
    op.drop_index("ix_traces_project_id_span_count", table_name="traces")
    op.drop_index("ix_traces_project_id_tokens_sort", table_name="traces")
    _replace("ix_traces_project_id_cost_sort", ["project_id", COST])
    _replace("ix_traces_project_id_duration_ns", ["project_id", "duration_ns"])
    op.create_index("ix_traces_project_id_start_time_ns", "traces", ["project_id", "start_time_ns"])
    op.drop_index("ix_traces_project_time_filters", table_name="traces")


def _replace(name: str, columns: list[str | sa.TextClause]) -> None:
    op.drop_index(name, table_name="traces")
    op.create_index(name, "traces", columns)
