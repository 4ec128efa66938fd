"""Keeping a project's alert rules (``store/models/alert.py``; what raises an alert from
them is in ``evals/alerts/``).

A rule is checked here as a whole, whoever stores it (the API, the page): its kind
decides whether it needs a suite (the run kinds) and a limit (cost per trace in USD,
error and escalation rates as a share), and a suite must be one of the rule's own
project. The caller owns the transaction, as everywhere in ``store/``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from store.models import AlertRule, EvalSuite
from store.models.alert import PROJECT_RULE_KINDS, RULE_KINDS, RUN_RULE_KINDS
from store.projects import ensure_projects

# The limit each kind compares with; the other kinds take none.
RATE_KINDS = ("error_rate", "escalation_rate")
LIMIT_KINDS = ("cost_per_trace", *RATE_KINDS)


class RuleError(ValueError):
    """A rule that cannot be stored as sent (the message says why)."""


@dataclass(frozen=True, slots=True)
class StoredRule:
    id: int
    project_id: int
    name: str
    kind: str  # one of RULE_KINDS
    suite_id: int | None  # run kinds: the suite whose runs it watches
    suite: str | None  # that suite's name
    limit: float | None
    webhook_url: str | None
    enabled: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class NewRule:
    name: str
    kind: str
    suite_id: int | None = None
    limit: float | None = None
    webhook_url: str | None = None
    enabled: bool = True


def rule_problem(rule: NewRule) -> str | None:
    """Why the rule's kind, suite and limit do not go together, or None."""
    if rule.kind not in RULE_KINDS:
        return f"kind must be one of {', '.join(RULE_KINDS)}"
    if rule.kind in RUN_RULE_KINDS and rule.suite_id is None:
        return f"{rule.kind} rules watch a suite's runs: choose the suite"
    if rule.kind in PROJECT_RULE_KINDS and rule.suite_id is not None:
        return f"{rule.kind} rules watch the whole project: they take no suite"
    if rule.kind in LIMIT_KINDS and rule.limit is None:
        unit = "USD per trace" if rule.kind == "cost_per_trace" else "a share from 0 to 1"
        return f"{rule.kind} rules need a limit ({unit})"
    if rule.kind not in LIMIT_KINDS and rule.limit is not None:
        return f"{rule.kind} rules take no limit"
    if rule.limit is not None and rule.limit < 0:
        return "the limit must not be negative"
    if rule.kind in RATE_KINDS and rule.limit is not None and rule.limit > 1:
        return "a rate's limit is a share from 0 to 1 (0.05 is 5%)"
    return None


def add_rule(connection: Connection, project: str, rule: NewRule, now: datetime) -> int:
    """Store the rule; :class:`RuleError` (nothing stored) when it does not hold together."""
    problem = rule_problem(rule)
    if problem:
        raise RuleError(problem)
    project_id = ensure_projects(connection, [project])[project]
    if rule.suite_id is not None:
        owner = connection.scalar(
            sa.select(EvalSuite.project_id).where(EvalSuite.id == rule.suite_id)
        )
        if owner != project_id:
            raise RuleError(f"project {project!r} has no suite {rule.suite_id}")
    return int(
        connection.execute(
            sa.insert(AlertRule)
            .values(
                project_id=project_id,
                name=rule.name,
                kind=rule.kind,
                suite_id=rule.suite_id,
                limit=rule.limit,
                webhook_url=rule.webhook_url,
                enabled=rule.enabled,
                created_at=now,
            )
            .returning(AlertRule.id)
        ).scalar_one()
    )


def rules(connection: Connection, project_id: int) -> list[StoredRule]:
    """The project's rules, oldest first."""
    statement = _select().where(AlertRule.project_id == project_id).order_by(AlertRule.id)
    return [StoredRule(*row) for row in connection.execute(statement)]


def rule(connection: Connection, rule_id: int) -> StoredRule | None:
    row = connection.execute(_select().where(AlertRule.id == rule_id)).first()
    return StoredRule(*row) if row is not None else None


def enabled_rules(
    connection: Connection, *, suite_id: int | None = None, kinds: tuple[str, ...] = RULE_KINDS
) -> list[StoredRule]:
    """Enabled rules of these kinds: a suite's (``suite_id``), or every project's."""
    statement = _select().where(AlertRule.enabled, AlertRule.kind.in_(kinds))
    if suite_id is not None:
        statement = statement.where(AlertRule.suite_id == suite_id)
    return [StoredRule(*row) for row in connection.execute(statement.order_by(AlertRule.id))]


def delete_rule(connection: Connection, rule_id: int) -> bool:
    """Its alerts stay (``rule_id`` becomes NULL): they say what they were about."""
    return bool(connection.execute(sa.delete(AlertRule).where(AlertRule.id == rule_id)).rowcount)


def _select() -> sa.Select[tuple[int, int, str, str, int | None, str | None, float | None,
                                 str | None, bool, datetime]]:  # fmt: skip
    """:class:`StoredRule`'s fields, in order."""
    return sa.select(
        AlertRule.id, AlertRule.project_id, AlertRule.name, AlertRule.kind, AlertRule.suite_id,
        EvalSuite.name, AlertRule.limit, AlertRule.webhook_url, AlertRule.enabled,
        AlertRule.created_at,
    ).outerjoin(EvalSuite, EvalSuite.id == AlertRule.suite_id)  # fmt: skip


def watchable_suites(connection: Connection, project_id: int) -> list[tuple[int, str]]:
    """(id, name) of the project's suites, by name: what a run rule may watch."""
    rows = connection.execute(
        sa.select(EvalSuite.id, EvalSuite.name)
        .where(EvalSuite.project_id == project_id)
        .order_by(EvalSuite.name)
    )
    return [(suite_id, name) for suite_id, name in rows]
