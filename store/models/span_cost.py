"""What a span cost: derived from its usage and a price, so kept apart from the span.

A span row is written once and never changes; its cost changes whenever the price
book does (``reasonlens reprice``). Kept in a narrow table of its own, keyed by the
span's row id, a re-pricing reads and rewrites a few dozen bytes per model call instead
of the whole span with its message text (on SQLite a wide span row spills into overflow
pages, and changing any column rewrites all of them). Keyed by the row id rather than
the span's (project, trace, span) ids, rows are smaller and ingest appends them at the
end of the table instead of scattering them through it: measured, that made storing
costs cost 1% of the writer's time instead of 12%. A span that neither reported a cost
nor is a model call with usage has no row here.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from store.models.base import Base
from store.types import RowId


class SpanCost(Base):
    __tablename__ = "span_costs"

    span_pk: Mapped[int] = mapped_column(
        RowId, sa.ForeignKey("spans.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    # A model call (LLM or embedding span), whose cost the trace's total sums; the cost
    # another span reports (an agent's aggregate, a wrapper's) is kept but never summed.
    counted: Mapped[bool]
    # The cost used: as reported when the client sent one, else computed from the price
    # book. cost_source says which, or "unpriced" (usage, no price: never $0); the
    # price_key names the price in ``prices`` that computed it (store/pricing/).
    cost_usd: Mapped[float | None]
    reported_cost_usd: Mapped[float | None]
    computed_cost_usd: Mapped[float | None]
    cost_source: Mapped[str] = mapped_column(sa.String(8))
    price_key: Mapped[str | None] = mapped_column(sa.String(16))
    # The parts the client said its cost is made of, by its own names ({"prompt": ..,
    # "prompt_details.cache_read": ..} from OpenInference, Langfuse's cost_details).
    reported_details: Mapped[dict[str, Any] | None]


def cost_of_span(span: Any) -> sa.ColumnElement[bool]:
    """Joins a span's cost to it; ``span``: the ``Span`` class, or a spans table's ``.c``."""
    return SpanCost.span_pk == span.id
