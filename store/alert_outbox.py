"""The alerts' webhook outbox: claim a due delivery, then record how it went.

A pending alert is due when its ``next_attempt_at`` has come. Claiming it is one
conditional UPDATE (as ``store/jobs.py`` claims a job): it counts the attempt and
pushes ``next_attempt_at`` out by a lease, so no other process takes the same attempt
while this one sends it, and one that died mid-send leaves the alert to be taken again
once the lease runs out. The outcome is recorded only by the attempt that claimed it
(``attempts`` still the claimed value), so a sender that outlived its lease cannot undo
a later attempt's result. The caller owns the transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from store.models import Alert

MAX_ERROR_CHARS = 500


@dataclass(frozen=True, slots=True)
class Claimed:
    alert_id: int
    attempt: int  # 1 for the first
    webhook_url: str


def _due(now: datetime) -> tuple[sa.ColumnElement[bool], ...]:
    return Alert.delivery_state == "pending", Alert.next_attempt_at <= now


def claim_due(connection: Connection, now: datetime, lease: timedelta) -> Claimed | None:
    """Take the pending alert due longest ago, or None when none is due."""
    pick = (
        sa.select(Alert.id)
        .where(*_due(now))
        .order_by(Alert.next_attempt_at, Alert.id)
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    row = connection.execute(
        sa.update(Alert)
        # Checked again under the row's lock: on PostgreSQL another sender may have
        # committed its claim between the sub-select's snapshot and this update.
        .where(Alert.id == pick, *_due(now))
        .values(attempts=Alert.attempts + 1, next_attempt_at=now + lease)
        .returning(Alert.id, Alert.attempts, Alert.webhook_url)
    ).first()
    if row is None or row.webhook_url is None:
        return None
    return Claimed(row.id, row.attempts, row.webhook_url)


def next_due(connection: Connection) -> datetime | None:
    """When the earliest pending delivery is due (a sender sleeps until then)."""
    return connection.scalar(
        sa.select(sa.func.min(Alert.next_attempt_at)).where(Alert.delivery_state == "pending")
    )


def record_sent(connection: Connection, claimed: Claimed, now: datetime) -> bool:
    """The webhook took it; False when the attempt was no longer this sender's."""
    return _record(
        connection, claimed, delivery_state="sent", delivered_at=now, next_attempt_at=None,
        last_error=None,
    )  # fmt: skip


def record_failure(
    connection: Connection, claimed: Claimed, error: str, retry_at: datetime | None
) -> bool:
    """The attempt failed: try again at ``retry_at``, or give up (None: ``failed``)."""
    return _record(
        connection,
        claimed,
        delivery_state="pending" if retry_at is not None else "failed",
        next_attempt_at=retry_at,
        last_error=error[:MAX_ERROR_CHARS],
    )


def _record(connection: Connection, claimed: Claimed, **values: object) -> bool:
    result = connection.execute(
        sa.update(Alert)
        .where(
            Alert.id == claimed.alert_id,
            Alert.attempts == claimed.attempt,
            Alert.delivery_state == "pending",
        )
        .values(**values)
    )
    return result.rowcount == 1
