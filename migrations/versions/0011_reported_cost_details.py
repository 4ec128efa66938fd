"""the parts a client reported its cost of

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-21 23:20:00

Spans stored before keep them in their raw attributes only.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Declared here, not imported from store.types, so this revision never changes.
JSON = sa.Text().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.add_column("span_costs", sa.Column("reported_details", JSON, nullable=True))


def downgrade() -> None:
    op.drop_column("span_costs", "reported_details")
