"""Raising, listing and acknowledging alerts (``store/models/alert.py``; the webhook
outbox is ``store/alert_outbox.py``).

An alert is raised at most once per condition: its ``dedupe_key`` is unique in its
project and the insert does nothing on a conflict, so a run checked twice, or two
checkers looking at the same budget, store one alert. The caller owns the transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from store import dialect
from store.models import Alert, AlertRule, EvalRun, EvalSuite, Project, Runaway

MAX_LIST = 500


@dataclass(frozen=True, slots=True)
class NewAlert:
    project_id: int
    rule_id: int | None
    kind: str
    title: str
    figures: dict[str, Any]
    link: str  # a dashboard path
    dedupe_key: str
    webhook_url: str | None
    run_id: int | None = None
    trace_id: str | None = None


@dataclass(frozen=True, slots=True)
class AlertRecord:
    """An alert with what it names: its project, rule and run, as they are now."""

    alert: Alert
    project: str
    rule_name: str | None  # None once the rule is deleted
    rule_kind: str | None
    rule_limit: float | None
    suite: str | None  # the run's suite
    run_status: str | None


def raise_alert(connection: Connection, new: NewAlert, now: datetime) -> int | None:
    """Store the alert, open; its id, or None when its condition has one already.

    With a webhook it is pending delivery from now; without, there is nothing to send.
    """
    statement = (
        dialect.insert(connection, Alert.__table__)
        .values(
            project_id=new.project_id,
            rule_id=new.rule_id,
            kind=new.kind,
            run_id=new.run_id,
            trace_id=new.trace_id,
            title=new.title,
            figures=new.figures,
            link=new.link,
            dedupe_key=new.dedupe_key,
            state="open",
            created_at=now,
            webhook_url=new.webhook_url,
            delivery_state="pending" if new.webhook_url else "none",
            attempts=0,
            next_attempt_at=now if new.webhook_url else None,
        )
        .on_conflict_do_nothing(index_elements=["project_id", "dedupe_key"])
        .returning(Alert.id)
    )
    found = connection.execute(statement).scalar()
    return None if found is None else int(found)


def alerts(
    connection: Connection, project_id: int, state: str | None = None, limit: int = 100
) -> list[AlertRecord]:
    """The project's alerts, newest first (at most ``limit``, itself at most 500)."""
    statement = _select().where(Alert.project_id == project_id)
    if state is not None:
        statement = statement.where(Alert.state == state)
    statement = statement.order_by(Alert.created_at.desc(), Alert.id.desc())
    return [_record(row) for row in connection.execute(statement.limit(min(limit, MAX_LIST)))]


def alert(connection: Connection, alert_id: int) -> AlertRecord | None:
    row = connection.execute(_select().where(Alert.id == alert_id)).first()
    return None if row is None else _record(row)


def acknowledge(connection: Connection, alert_id: int, now: datetime) -> bool:
    """Mark the alert acknowledged (once: a second call keeps the first time); whether
    the alert exists. Its webhook delivery goes on: other systems keep their record."""
    connection.execute(
        sa.update(Alert)
        .where(Alert.id == alert_id, Alert.state == "open")
        .values(state="acknowledged", acknowledged_at=now)
    )
    return connection.scalar(sa.select(Alert.id).where(Alert.id == alert_id)) is not None


def unalerted_runaways(
    connection: Connection, project_id: int, rule_id: int, since: datetime, limit: int = 500
) -> list[Runaway]:
    """The project's runaways flagged since ``since`` that the rule has not raised an
    alert for (``runaway:<rule>:<trace>``), oldest flag first: each is read until its
    alert is stored, so a checker that was down catches up, ``limit`` at a time."""
    key = sa.literal(f"runaway:{rule_id}:") + Runaway.trace_id
    raised = sa.exists().where(Alert.project_id == project_id, Alert.dedupe_key == key)
    statement = (
        sa.select(Runaway)
        .where(Runaway.project_id == project_id, Runaway.flagged_at >= since, ~raised)
        .order_by(Runaway.flagged_at, Runaway.trace_id)
        .limit(limit)
    )
    return [Runaway(**row._mapping) for row in connection.execute(statement)]


_NAMED = ("project", "rule_name", "rule_kind", "rule_limit", "suite", "run_status")


def _select() -> sa.Select[Any]:
    named = (Project.name, AlertRule.name, AlertRule.kind, AlertRule.limit, EvalSuite.name,
             EvalRun.status)  # fmt: skip
    return (
        sa.select(
            *Alert.__table__.c,
            *(column.label(label) for column, label in zip(named, _NAMED, strict=True)),
        )
        .join(Project, Project.id == Alert.project_id)
        .outerjoin(AlertRule, AlertRule.id == Alert.rule_id)
        .outerjoin(EvalRun, EvalRun.id == Alert.run_id)
        .outerjoin(EvalSuite, EvalSuite.id == EvalRun.suite_id)
    )


def _record(row: sa.Row[Any]) -> AlertRecord:
    """A row of ``_select()``: the alert's columns, then what it names."""
    mapping = row._mapping
    columns = {column.key: mapping[column] for column in Alert.__table__.c}
    return AlertRecord(Alert(**columns), *(mapping[label] for label in _NAMED))
