"""The periodic task table (``store/models/periodic.py``): claim, renew, finish.

As with eval jobs (``store/jobs.py``), each step two processes may race on is one
conditional UPDATE, so the database decides who wins: a claim takes the row only when
the task is due and nobody's lease is running; a renewal or a finish names the holder
that must still hold it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from store import dialect
from store.models import PeriodicTask


def claim(
    connection: Connection, name: str, holder: str, now: datetime, lease_until: datetime
) -> bool:
    """Take the task if it is due and free; whether this call took it."""
    connection.execute(
        dialect.insert(connection, PeriodicTask.__table__)
        .values(name=name)
        .on_conflict_do_nothing(index_elements=["name"])
    )
    result = connection.execute(
        sa.update(PeriodicTask)
        .where(
            PeriodicTask.name == name,
            sa.or_(PeriodicTask.lease_until.is_(None), PeriodicTask.lease_until < now),
            sa.or_(PeriodicTask.next_run_at.is_(None), PeriodicTask.next_run_at <= now),
        )
        .values(holder=holder, lease_until=lease_until)
    )
    return result.rowcount == 1


def renew(connection: Connection, name: str, holder: str, lease_until: datetime) -> bool:
    """Extend the lease; False when another process has taken the task since."""
    result = connection.execute(
        sa.update(PeriodicTask)
        .where(PeriodicTask.name == name, PeriodicTask.holder == holder)
        .values(lease_until=lease_until)
    )
    return result.rowcount == 1


def finish(
    connection: Connection,
    name: str,
    holder: str,
    now: datetime,
    next_run_at: datetime,
    result: dict[str, Any] | None,
) -> bool:
    """Release the task until ``next_run_at``, keeping what the run did."""
    updated = connection.execute(
        sa.update(PeriodicTask)
        .where(PeriodicTask.name == name, PeriodicTask.holder == holder)
        .values(
            holder=None,
            lease_until=None,
            next_run_at=next_run_at,
            last_finished_at=now,
            last_result=result,
        )
    )
    return updated.rowcount == 1
