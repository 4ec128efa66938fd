"""eval suites, runs and scores

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21 15:41:56
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Declared here, not imported from store.types, so this revision never changes.
JSON = sa.Text().with_variant(postgresql.JSONB(), "postgresql")
ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "eval_suites",
        sa.Column("project_id", ROW_ID, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("definition", sa.Text(), nullable=False),
        sa.Column("schedule", sa.Text(), nullable=True),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.Column("id", ROW_ID, autoincrement=True, nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_eval_suites_project_id_projects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_eval_suites")),
    )
    op.create_index(
        "uq_eval_suites_project_id_name", "eval_suites", ["project_id", "name"], unique=True
    )
    op.create_table(
        "eval_runs",
        sa.Column("project_id", ROW_ID, nullable=False),
        sa.Column("suite_id", ROW_ID, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("definition", sa.Text(), nullable=False),
        sa.Column("selection_size", sa.BigInteger(), nullable=True),
        sa.Column("started_at", TIME, nullable=False),
        sa.Column("finished_at", TIME, nullable=True),
        sa.Column("summary", JSON, nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("id", ROW_ID, autoincrement=True, nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_eval_runs_project_id_projects")
        ),
        sa.ForeignKeyConstraint(
            ["suite_id"], ["eval_suites.id"], name=op.f("fk_eval_runs_suite_id_eval_suites")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_eval_runs")),
    )
    op.create_index("ix_eval_runs_suite_id_started_at", "eval_runs", ["suite_id", "started_at"])
    op.create_table(
        "scores",
        sa.Column("project_id", ROW_ID, nullable=False),
        sa.Column("run_id", ROW_ID, nullable=True),
        sa.Column("trace_id", sa.String(length=32), nullable=False),
        sa.Column("span_id", sa.String(length=16), nullable=True),
        sa.Column("evaluator", sa.Text(), nullable=False),
        sa.Column("metric", sa.Text(), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("label", sa.Text(), nullable=True),
        sa.Column("passed", sa.Boolean(), nullable=True),
        sa.Column("explanation", sa.Text(), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("id", ROW_ID, autoincrement=True, nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_scores_project_id_projects")
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["eval_runs.id"], name=op.f("fk_scores_run_id_eval_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scores")),
    )
    op.create_index("ix_scores_project_id_trace_id", "scores", ["project_id", "trace_id"])
    op.create_index("ix_scores_run_id_evaluator", "scores", ["run_id", "evaluator"])


def downgrade() -> None:
    op.drop_index("ix_scores_run_id_evaluator", table_name="scores")
    op.drop_index("ix_scores_project_id_trace_id", table_name="scores")
    op.drop_table("scores")
    op.drop_index("ix_eval_runs_suite_id_started_at", table_name="eval_runs")
    op.drop_table("eval_runs")
    op.drop_index("uq_eval_suites_project_id_name", table_name="eval_suites")
    op.drop_table("eval_suites")
