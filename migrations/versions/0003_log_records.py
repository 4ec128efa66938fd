"""log records: OTLP logs and the GenAI content events they carry

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 13:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Declared here, not imported from store.types, so this revision never changes.
JSON = sa.Text().with_variant(postgresql.JSONB(), "postgresql")
ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "log_records",
        sa.Column("project_id", ROW_ID, nullable=False),
        sa.Column("record_hash", sa.String(length=32), nullable=False),
        sa.Column("trace_id", sa.String(length=32), nullable=True),
        sa.Column("span_id", sa.String(length=16), nullable=True),
        sa.Column("time_ns", sa.BigInteger(), nullable=False),
        sa.Column("observed_time_ns", sa.BigInteger(), nullable=False),
        sa.Column("severity_number", sa.SmallInteger(), nullable=False),
        sa.Column("severity_text", sa.Text(), nullable=True),
        sa.Column("event_name", sa.Text(), nullable=True),
        sa.Column("body", JSON, nullable=True),
        sa.Column("attributes", JSON, nullable=False),
        sa.Column("resource_attributes", JSON, nullable=False),
        sa.Column("scope_name", sa.Text(), nullable=True),
        sa.Column("scope_version", sa.Text(), nullable=True),
        sa.Column("scope_attributes", JSON, nullable=False),
        sa.Column("service_name", sa.Text(), nullable=True),
        sa.Column("flags", sa.BigInteger(), nullable=False),
        sa.Column("dropped_attributes_count", sa.Integer(), nullable=False),
        sa.Column("input_messages", JSON, nullable=True),
        sa.Column("output_messages", JSON, nullable=True),
        sa.Column("system_instructions", sa.Text(), nullable=True),
        sa.Column("finish_reasons", JSON, nullable=True),
        sa.Column("id", ROW_ID, autoincrement=True, nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_log_records_project_id_projects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_log_records")),
    )
    op.create_index(
        "uq_log_records_project_id_record_hash",
        "log_records",
        ["project_id", "record_hash"],
        unique=True,
    )
    op.create_index(
        "ix_log_records_project_id_trace_id_span_id",
        "log_records",
        ["project_id", "trace_id", "span_id"],
    )


def downgrade() -> None:
    op.drop_index("ix_log_records_project_id_trace_id_span_id", table_name="log_records")
    op.drop_index("uq_log_records_project_id_record_hash", table_name="log_records")
    op.drop_table("log_records")
