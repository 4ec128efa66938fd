"""an index of spans by project and row id, for one project's span export

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-22 05:00:00

The spans export reads a project's spans by ranges of row ids. Without this index
PostgreSQL found a project's spans by bitmap and sorted each range, and SQLite read
every span of the range, the other projects' too.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_spans_project_id_id", "spans", ["project_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_spans_project_id_id", table_name="spans")
