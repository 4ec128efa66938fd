"""datasets, suite baselines, score details and agent-score dedupe

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21 09:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Declared here, not imported from store.types, so this revision never changes.
JSON = sa.Text().with_variant(postgresql.JSONB(), "postgresql")
ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "datasets",
        sa.Column("project_id", ROW_ID, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("item_count", sa.BigInteger(), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.Column("id", ROW_ID, autoincrement=True, nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_datasets_project_id_projects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_datasets")),
    )
    op.create_index("uq_datasets_project_id_name", "datasets", ["project_id", "name"], unique=True)
    op.create_table(
        "dataset_items",
        sa.Column("dataset_id", ROW_ID, nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("item_key", sa.Text(), nullable=False),
        sa.Column("input", sa.Text(), nullable=True),
        sa.Column("expected_output", sa.Text(), nullable=True),
        sa.Column("item_metadata", JSON, nullable=True),
        sa.Column("id", ROW_ID, autoincrement=True, nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"], ["datasets.id"], name=op.f("fk_dataset_items_dataset_id_datasets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dataset_items")),
    )
    op.create_index(
        "uq_dataset_items_dataset_id_item_key",
        "dataset_items",
        ["dataset_id", "item_key"],
        unique=True,
    )
    with op.batch_alter_table("eval_suites") as batch:
        batch.add_column(sa.Column("baseline_run_id", sa.BigInteger(), nullable=True))
    with op.batch_alter_table("scores") as batch:
        batch.add_column(sa.Column("details", JSON, nullable=True))
        batch.add_column(sa.Column("dedupe_key", sa.String(length=32), nullable=True))
    # Partial: run scores (most rows) have no key and never enter it.
    op.create_index(
        "uq_scores_project_id_dedupe_key",
        "scores",
        ["project_id", "dedupe_key"],
        unique=True,
        sqlite_where=sa.text("dedupe_key IS NOT NULL"),
        postgresql_where=sa.text("dedupe_key IS NOT NULL"),
    )
    # A run's results page in score order, for one evaluator: a range of this index.
    op.drop_index("ix_scores_run_id_evaluator", table_name="scores")
    op.create_index("ix_scores_run_id_evaluator_id", "scores", ["run_id", "evaluator", "id"])


def downgrade() -> None:
    op.drop_index("ix_scores_run_id_evaluator_id", table_name="scores")
    op.create_index("ix_scores_run_id_evaluator", "scores", ["run_id", "evaluator"])
    op.drop_index("uq_scores_project_id_dedupe_key", table_name="scores")
    with op.batch_alter_table("scores") as batch:
        batch.drop_column("dedupe_key")
        batch.drop_column("details")
    with op.batch_alter_table("eval_suites") as batch:
        batch.drop_column("baseline_run_id")
    op.drop_index("uq_dataset_items_dataset_id_item_key", table_name="dataset_items")
    op.drop_table("dataset_items")
    op.drop_index("uq_datasets_project_id_name", table_name="datasets")
    op.drop_table("datasets")
