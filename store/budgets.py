"""Keeping a project's budgets (``store/models/budget.py``; what they compare with is in
``store/analytics/budgets.py``).

A project has at most one budget per scope (the project, or one agent) and period:
adding one where another exists replaces it, so "set the daily limit to $50" needs no
id. The caller owns the transaction, as everywhere in ``store/``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from store.models import BUDGET_PERIODS, Budget, Project
from store.projects import ensure_projects


@dataclass(frozen=True, slots=True)
class StoredBudget:
    id: int
    project_id: int
    agent: str | None  # None: the whole project
    period: str  # one of BUDGET_PERIODS
    limit_usd: float
    created_at: datetime


def add_budget(
    connection: Connection, project: str, agent: str | None, period: str, limit_usd: float
) -> int:
    """Store a budget, replacing the project's budget of the same scope and period.

    The project row is locked first (``FOR UPDATE`` on PostgreSQL; SQLite has one writer
    at a time anyway), so two concurrent adds of the same budget leave one row, not two:
    the table has no unique constraint, since NULL agents never collide in one.
    """
    if period not in BUDGET_PERIODS:
        raise ValueError(f"period must be one of {', '.join(BUDGET_PERIODS)}")
    project_id = ensure_projects(connection, [project])[project]
    connection.execute(sa.select(Project.id).where(Project.id == project_id).with_for_update())
    connection.execute(
        sa.delete(Budget).where(
            Budget.project_id == project_id, _agent_is(agent), Budget.period == period
        )
    )
    return int(
        connection.execute(
            sa.insert(Budget)
            .values(
                project_id=project_id,
                agent_name=agent,
                period=period,
                limit_usd=limit_usd,
                created_at=datetime.now(UTC),
            )
            .returning(Budget.id)
        ).scalar_one()
    )


def budgets(connection: Session | Connection, project_id: int) -> list[StoredBudget]:
    """The project's budgets: the project's own first, then by agent; per trace, day and
    month within each."""
    period_order = sa.case(
        {period: index for index, period in enumerate(BUDGET_PERIODS)}, value=Budget.period
    )
    statement = (
        _select_budgets()
        .where(Budget.project_id == project_id)
        .order_by(Budget.agent_name.is_not(None), Budget.agent_name, period_order, Budget.id)
    )
    return [StoredBudget(*row) for row in connection.execute(statement)]


def budget(connection: Session | Connection, budget_id: int) -> StoredBudget | None:
    row = connection.execute(_select_budgets().where(Budget.id == budget_id)).first()
    return StoredBudget(*row) if row is not None else None


def delete_budget(connection: Connection, budget_id: int) -> bool:
    deleted = connection.execute(sa.delete(Budget).where(Budget.id == budget_id))
    return bool(deleted.rowcount)


def _select_budgets() -> sa.Select[tuple[int, int, str | None, str, float, datetime]]:
    """:class:`StoredBudget`'s fields, in order."""
    return sa.select(
        Budget.id, Budget.project_id, Budget.agent_name, Budget.period, Budget.limit_usd,
        Budget.created_at,
    )  # fmt: skip


def _agent_is(agent: str | None) -> sa.ColumnElement[bool]:
    return Budget.agent_name.is_(None) if agent is None else Budget.agent_name == agent
