"""Revision 0009 moves span costs to ``span_costs`` and back, losing nothing."""

from __future__ import annotations

import sqlalchemy as sa

import migrations
from store.engine import create_engine

T0 = 1_760_000_000_000_000_000
COSTS = ("cost_usd", "reported_cost_usd", "computed_cost_usd", "cost_source", "price_key")
# (span id, kind, the five cost columns as revision 0008 stored them)
SPANS = [
    ("00000000000000a1", "llm", (0.002, None, 0.002, "computed", "k1")),
    ("00000000000000a2", "llm", (0.5, 0.5, 0.0021, "reported", "k1")),
    ("00000000000000a3", "embedding", (None, None, None, "unpriced", None)),
    ("00000000000000a4", "agent", (0.75, 0.75, None, "reported", None)),  # kept, not summed
    ("00000000000000a5", "tool", (None, None, None, None, None)),  # nothing to say
]


def _spans_at_0008(connection: sa.Connection) -> None:
    connection.execute(sa.text("INSERT INTO projects (name, created_at) VALUES ('p', :now)"), {
        "now": "2026-11-21 00:00:00+00:00"
    })  # fmt: skip
    project = connection.execute(sa.text("SELECT id FROM projects")).scalar_one()
    spans = sa.table("spans", *(sa.column(name) for name in _COLUMNS_0008))
    connection.execute(
        spans.insert(),
        [
            {
                "project_id": project, "trace_id": "ab" * 16, "span_id": span_id,
                "name": kind, "otel_kind": 1, "kind": kind, "start_time_ns": T0,
                "end_time_ns": T0, "duration_ns": 0, "status": "ok", "status_code": 0,
                "flags": 0, "conventions": "[]", "unmapped": "[]", "attributes": "{}",
                "resource_attributes": "{}", "scope_attributes": "{}", "events": "[]",
                "links": "[]", "dropped_attributes_count": 0, "dropped_events_count": 0,
                "dropped_links_count": 0, **dict(zip(COSTS, costs, strict=True)),
            }
            for span_id, kind, costs in SPANS
        ],
    )  # fmt: skip


_COLUMNS_0008 = (
    "project_id", "trace_id", "span_id", "name", "otel_kind", "kind", "start_time_ns",
    "end_time_ns", "duration_ns", "status", "status_code", "flags", "conventions", "unmapped",
    "attributes", "resource_attributes", "scope_attributes", "events", "links",
    "dropped_attributes_count", "dropped_events_count", "dropped_links_count", *COSTS,
)  # fmt: skip


def test_costs_move_to_span_costs_and_back(fresh_db: str) -> None:
    engine = create_engine(fresh_db)
    migrations.upgrade(engine, "0008")
    with engine.begin() as connection:
        _spans_at_0008(connection)

    migrations.upgrade(engine, "0009")
    columns = {column["name"] for column in sa.inspect(engine).get_columns("spans")}
    assert columns.isdisjoint(COSTS)
    with engine.connect() as connection:
        moved = connection.execute(
            sa.text(
                f"SELECT span_id, counted, {', '.join(COSTS)} FROM span_costs"
                " JOIN spans ON spans.id = span_costs.span_pk ORDER BY span_id"
            )
        ).all()
    assert [(row[0], bool(row[1]), tuple(row[2:])) for row in moved] == [
        (span_id, kind in ("llm", "embedding"), costs)
        for span_id, kind, costs in SPANS
        if costs[3] is not None
    ]

    migrations.downgrade(engine, "0008")
    with engine.connect() as connection:
        back = connection.execute(
            sa.text(f"SELECT span_id, kind, {', '.join(COSTS)} FROM spans ORDER BY span_id")
        ).all()
    assert [(row[0], row[1], tuple(row[2:])) for row in back] == SPANS
    engine.dispose()
