"""scheduled suites and their job table; alert rules and alerts; known-good versions

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-22 01:20:00

Suites stored before are enabled; one with a schedule gets its next run from the
scheduler's first look at it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIME = sa.DateTime(timezone=True)
JSON = sa.Text().with_variant(postgresql.JSONB(), "postgresql")


def _fk(
    table: str, column: str, target: str, ondelete: str | None = None
) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete=ondelete
    )


def upgrade() -> None:
    with op.batch_alter_table("eval_suites") as batch:
        batch.add_column(
            sa.Column("enabled", sa.Boolean(), server_default=sa.true(), nullable=False)
        )
        batch.add_column(sa.Column("next_run_at", TIME, nullable=True))
        batch.add_column(sa.Column("scored_until_ns", sa.BigInteger(), nullable=True))
    op.create_table(
        "eval_jobs",
        sa.Column("project_id", ROW_ID, nullable=False),
        sa.Column("suite_id", ROW_ID, nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("due_at", TIME, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("worker", sa.Text(), nullable=True),
        sa.Column("lease_until", TIME, nullable=True),
        sa.Column("run_id", ROW_ID, nullable=True),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("started_at", TIME, nullable=True),
        sa.Column("finished_at", TIME, nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("id", ROW_ID, autoincrement=True, nullable=False),
        _fk("eval_jobs", "project_id", "projects"),
        _fk("eval_jobs", "suite_id", "eval_suites", "CASCADE"),
        _fk("eval_jobs", "run_id", "eval_runs"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_eval_jobs")),
    )
    op.create_index("ix_eval_jobs_status_due_at", "eval_jobs", ["status", "due_at"])
    op.create_index(
        "uq_eval_jobs_suite_id_due_at", "eval_jobs", ["suite_id", "due_at"], unique=True
    )
    op.create_index("ix_eval_jobs_suite_id_status", "eval_jobs", ["suite_id", "status"])
    running = sa.text("status = 'running'")
    op.create_index(
        "uq_eval_jobs_running_suite_id",
        "eval_jobs",
        ["suite_id"],
        unique=True,
        sqlite_where=running,
        postgresql_where=running,
    )
    op.create_table(
        "alert_rules",
        sa.Column("project_id", ROW_ID, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("suite_id", ROW_ID, nullable=True),
        sa.Column("limit", sa.Float(), nullable=True),
        sa.Column("webhook_url", sa.Text(), nullable=True),
        sa.Column("enabled", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("id", ROW_ID, autoincrement=True, nullable=False),
        _fk("alert_rules", "project_id", "projects"),
        _fk("alert_rules", "suite_id", "eval_suites", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_rules")),
    )
    op.create_index("ix_alert_rules_project_id", "alert_rules", ["project_id"])
    op.create_table(
        "alerts",
        sa.Column("project_id", ROW_ID, nullable=False),
        sa.Column("rule_id", ROW_ID, nullable=True),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("run_id", ROW_ID, nullable=True),
        sa.Column("trace_id", sa.String(length=32), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("figures", JSON, nullable=False),
        sa.Column("link", sa.Text(), nullable=False),
        sa.Column("dedupe_key", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("acknowledged_at", TIME, nullable=True),
        sa.Column("webhook_url", sa.Text(), nullable=True),
        sa.Column("delivery_state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("next_attempt_at", TIME, nullable=True),
        sa.Column("delivered_at", TIME, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("id", ROW_ID, autoincrement=True, nullable=False),
        _fk("alerts", "project_id", "projects"),
        _fk("alerts", "rule_id", "alert_rules", "SET NULL"),
        _fk("alerts", "run_id", "eval_runs"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
    )
    op.create_index(
        "ix_alerts_delivery_state_next_attempt_at", "alerts", ["delivery_state", "next_attempt_at"]
    )
    op.create_index(
        "ix_alerts_project_id_state_created_at", "alerts", ["project_id", "state", "created_at"]
    )
    op.create_index(
        "uq_alerts_project_id_dedupe_key", "alerts", ["project_id", "dedupe_key"], unique=True
    )
    op.create_table(
        "known_good_versions",
        sa.Column("project_id", ROW_ID, nullable=False),
        sa.Column("agent_name", sa.Text(), nullable=False),
        sa.Column("version", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("marked_at", TIME, nullable=False),
        sa.Column("id", ROW_ID, autoincrement=True, nullable=False),
        _fk("known_good_versions", "project_id", "projects"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_known_good_versions")),
    )
    op.create_index(
        "uq_known_good_versions_project_id_agent_name",
        "known_good_versions",
        ["project_id", "agent_name"],
        unique=True,
    )


def downgrade() -> None:
    op.drop_table("known_good_versions")
    op.drop_table("alerts")
    op.drop_table("alert_rules")
    op.drop_table("eval_jobs")
    with op.batch_alter_table("eval_suites") as batch:
        batch.drop_column("scored_until_ns")
        batch.drop_column("next_run_at")
        batch.drop_column("enabled")
