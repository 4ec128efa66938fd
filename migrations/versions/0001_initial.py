"""initial schema: projects, traces, spans

Revision ID: 0001
Revises:
Create Date: 2026-11-21 11:21:46.600810
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Declared here, not imported from store.types, so this revision never changes.
JSON = sa.Text().with_variant(postgresql.JSONB(), "postgresql")
ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "projects",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", ROW_ID, autoincrement=True, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_projects")),
    )
    op.create_index("uq_projects_name", "projects", ["name"], unique=True)
    op.create_table(
        "spans",
        sa.Column("project_id", ROW_ID, nullable=False),
        sa.Column("trace_id", sa.String(length=32), nullable=False),
        sa.Column("span_id", sa.String(length=16), nullable=False),
        sa.Column("parent_span_id", sa.String(length=16), nullable=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("otel_kind", sa.SmallInteger(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("service_name", sa.Text(), nullable=True),
        sa.Column("scope_name", sa.Text(), nullable=True),
        sa.Column("scope_version", sa.Text(), nullable=True),
        sa.Column("start_time_ns", sa.BigInteger(), nullable=False),
        sa.Column("end_time_ns", sa.BigInteger(), nullable=False),
        sa.Column("duration_ns", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("status_code", sa.SmallInteger(), nullable=False),
        sa.Column("status_message", sa.Text(), nullable=True),
        sa.Column("error_type", sa.Text(), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("trace_state", sa.Text(), nullable=True),
        sa.Column("flags", sa.BigInteger(), nullable=False),
        sa.Column("model", sa.Text(), nullable=True),
        sa.Column("request_model", sa.Text(), nullable=True),
        sa.Column("provider", sa.Text(), nullable=True),
        sa.Column("input_tokens", sa.BigInteger(), nullable=True),
        sa.Column("output_tokens", sa.BigInteger(), nullable=True),
        sa.Column("total_tokens", sa.BigInteger(), nullable=True),
        sa.Column("reasoning_tokens", sa.BigInteger(), nullable=True),
        sa.Column("cache_read_tokens", sa.BigInteger(), nullable=True),
        sa.Column("cache_write_tokens", sa.BigInteger(), nullable=True),
        sa.Column("cost_usd", sa.Float(), nullable=True),
        sa.Column("input_text", sa.Text(), nullable=True),
        sa.Column("output_text", sa.Text(), nullable=True),
        sa.Column("input_messages", JSON, nullable=True),
        sa.Column("output_messages", JSON, nullable=True),
        sa.Column("system_instructions", sa.Text(), nullable=True),
        sa.Column("reasoning_text", sa.Text(), nullable=True),
        sa.Column("tool_name", sa.Text(), nullable=True),
        sa.Column("tool_call_id", sa.Text(), nullable=True),
        sa.Column("tool_arguments", sa.Text(), nullable=True),
        sa.Column("tool_result", sa.Text(), nullable=True),
        sa.Column("agent_name", sa.Text(), nullable=True),
        sa.Column("agent_id", sa.Text(), nullable=True),
        sa.Column("agent_version", sa.Text(), nullable=True),
        sa.Column("session_id", sa.Text(), nullable=True),
        sa.Column("user_id", sa.Text(), nullable=True),
        sa.Column("trace_name", sa.Text(), nullable=True),
        sa.Column("environment", sa.Text(), nullable=True),
        sa.Column("prompt_name", sa.Text(), nullable=True),
        sa.Column("prompt_version", sa.Text(), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("confidence_source", sa.Text(), nullable=True),
        sa.Column("finish_reasons", JSON, nullable=True),
        sa.Column("conventions", JSON, nullable=False),
        sa.Column("unmapped", JSON, nullable=False),
        sa.Column("attributes", JSON, nullable=False),
        sa.Column("resource_attributes", JSON, nullable=False),
        sa.Column("scope_attributes", JSON, nullable=False),
        sa.Column("events", JSON, nullable=False),
        sa.Column("links", JSON, nullable=False),
        sa.Column("dropped_attributes_count", sa.Integer(), nullable=False),
        sa.Column("dropped_events_count", sa.Integer(), nullable=False),
        sa.Column("dropped_links_count", sa.Integer(), nullable=False),
        sa.Column("id", ROW_ID, autoincrement=True, nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_spans_project_id_projects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_spans")),
    )
    op.create_index(
        "uq_spans_project_id_trace_id_span_id",
        "spans",
        ["project_id", "trace_id", "span_id"],
        unique=True,
    )
    op.create_index(
        "ix_spans_project_id_model",
        "spans",
        ["project_id", "model", "trace_id"],
        unique=False,
        sqlite_where=sa.text("model IS NOT NULL"),
        postgresql_where=sa.text("model IS NOT NULL"),
    )

    op.create_table(
        "traces",
        sa.Column("project_id", ROW_ID, nullable=False),
        sa.Column("trace_id", sa.String(length=32), nullable=False),
        sa.Column("root_span_id", sa.String(length=16), nullable=True),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("service_name", sa.Text(), nullable=True),
        sa.Column("agent_name", sa.Text(), nullable=True),
        sa.Column("agent_version", sa.Text(), nullable=True),
        sa.Column("session_id", sa.Text(), nullable=True),
        sa.Column("user_id", sa.Text(), nullable=True),
        sa.Column("environment", sa.Text(), nullable=True),
        sa.Column("start_time_ns", sa.BigInteger(), nullable=False),
        sa.Column("end_time_ns", sa.BigInteger(), nullable=False),
        sa.Column("duration_ns", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("error_count", sa.BigInteger(), nullable=False),
        sa.Column("span_count", sa.BigInteger(), nullable=False),
        sa.Column("llm_call_count", sa.BigInteger(), nullable=False),
        sa.Column("tool_call_count", sa.BigInteger(), nullable=False),
        sa.Column("input_tokens", sa.BigInteger(), nullable=False),
        sa.Column("output_tokens", sa.BigInteger(), nullable=False),
        sa.Column("reasoning_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cache_read_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cache_write_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cost_usd", sa.Float(), nullable=True),
        sa.Column("input", sa.Text(), nullable=True),
        sa.Column("output", sa.Text(), nullable=True),
        sa.Column("id", ROW_ID, autoincrement=True, nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_traces_project_id_projects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_traces")),
    )
    op.create_index(
        "uq_traces_project_id_trace_id", "traces", ["project_id", "trace_id"], unique=True
    )
    op.create_index(
        "ix_traces_project_id_agent_name_agent_version_start_time_ns",
        "traces",
        ["project_id", "agent_name", "agent_version", "start_time_ns"],
        unique=False,
    )
    op.create_index(
        "ix_traces_project_id_service_name_start_time_ns",
        "traces",
        ["project_id", "service_name", "start_time_ns"],
        unique=False,
    )
    op.create_index(
        "ix_traces_project_id_session_id_start_time_ns",
        "traces",
        ["project_id", "session_id", "start_time_ns"],
        unique=False,
    )
    op.create_index(
        "ix_traces_project_id_start_time_ns",
        "traces",
        ["project_id", "start_time_ns"],
        unique=False,
    )
    op.create_index(
        "ix_traces_project_id_status_start_time_ns",
        "traces",
        ["project_id", "status", "start_time_ns"],
        unique=False,
    )
    op.create_index("ix_traces_start_time_ns", "traces", ["start_time_ns"], unique=False)


def downgrade() -> None:
    op.drop_index("uq_traces_project_id_trace_id", table_name="traces")
    op.drop_index("ix_traces_start_time_ns", table_name="traces")
    op.drop_index("ix_traces_project_id_status_start_time_ns", table_name="traces")
    op.drop_index("ix_traces_project_id_start_time_ns", table_name="traces")
    op.drop_index("ix_traces_project_id_session_id_start_time_ns", table_name="traces")
    op.drop_index("ix_traces_project_id_service_name_start_time_ns", table_name="traces")
    op.drop_index(
        "ix_traces_project_id_agent_name_agent_version_start_time_ns", table_name="traces"
    )

    op.drop_table("traces")
    op.drop_index(
        "ix_spans_project_id_model",
        table_name="spans",
        sqlite_where=sa.text("model IS NOT NULL"),
        postgresql_where=sa.text("model IS NOT NULL"),
    )

    op.drop_index("uq_spans_project_id_trace_id_span_id", table_name="spans")
    op.drop_table("spans")
    op.drop_index("uq_projects_name", table_name="projects")
    op.drop_table("projects")
