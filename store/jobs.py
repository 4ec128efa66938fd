"""The eval job table (``store/models/schedule.py``): enqueue, claim, renew, finish.

Every step that two processes may race on is one conditional statement, so the
database decides who wins: a claim is an UPDATE of the one row a sub-select picked
(``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so concurrent claimers pass over each
other's rows instead of queueing on them; SQLite runs one writer at a time, so the
statement is atomic as it is), and a renewal or a finish names the worker that must
still hold the lease. A scheduler advances a suite's next run only from the value it
read, so of two schedulers that saw the same slot, one enqueues it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.orm import aliased

from store import audit, dialect
from store.evals import finish_run
from store.models import EvalJob, EvalRun, EvalSuite

LOST_LEASE = "its worker stopped renewing the lease (it died or lost the database)"


class SuiteBusy(RuntimeError):
    """A claim lost a race for a suite's one running slot; claim again."""


@dataclass(frozen=True, slots=True)
class DueSuite:
    id: int
    project_id: int
    schedule: str
    next_run_at: datetime | None  # None: the scheduler has not placed it yet


@dataclass(frozen=True, slots=True)
class ClaimedJob:
    id: int
    project_id: int
    suite_id: int
    reason: str
    due_at: datetime
    attempts: int  # including this one


def due_suites(connection: Connection, now: datetime) -> list[DueSuite]:
    """Enabled scheduled suites whose next run has come, or that have none placed yet."""
    rows = connection.execute(
        sa.select(EvalSuite.id, EvalSuite.project_id, EvalSuite.schedule, EvalSuite.next_run_at)
        .where(
            EvalSuite.enabled,
            EvalSuite.schedule.is_not(None),
            sa.or_(EvalSuite.next_run_at.is_(None), EvalSuite.next_run_at <= now),
        )
        .order_by(EvalSuite.id)
    )
    return [DueSuite(*row) for row in rows]


def advance_schedule(
    connection: Connection, suite_id: int, seen: datetime | None, next_run_at: datetime
) -> bool:
    """Move the suite's next run on, if it is still ``seen``; whether this call did."""
    still = EvalSuite.next_run_at.is_(None) if seen is None else EvalSuite.next_run_at == seen
    result = connection.execute(
        sa.update(EvalSuite).where(EvalSuite.id == suite_id, still).values(next_run_at=next_run_at)
    )
    return result.rowcount == 1


def set_enabled(
    connection: Connection, suite_id: int, enabled: bool, *, actor: str = "cli"
) -> bool:
    """Switch the suite's schedule on or off; False for no such suite. Either way the
    placed next run is dropped: switched on, the schedule starts again from now (the
    slots it missed while off are not run)."""
    result = connection.execute(
        sa.update(EvalSuite)
        .where(EvalSuite.id == suite_id)
        .values(enabled=enabled, next_run_at=None)
    )
    if result.rowcount != 1:
        return False
    suite = connection.execute(
        sa.select(EvalSuite.project_id, EvalSuite.name).where(EvalSuite.id == suite_id)
    ).one()
    action = "suite.enable" if enabled else "suite.disable"
    audit.record(connection, actor, action, project_id=suite.project_id, target=suite.name)
    return True


def job_counts(
    connection: Connection, suite_ids: list[int], failed_since: datetime
) -> dict[int, dict[str, int]]:
    """Per suite: jobs queued and running now, and jobs failed since ``failed_since``."""
    open_now = EvalJob.status.in_(("queued", "running"))
    failed = sa.and_(EvalJob.status == "failed", EvalJob.finished_at >= failed_since)
    rows = connection.execute(
        sa.select(EvalJob.suite_id, EvalJob.status, sa.func.count())
        .where(EvalJob.suite_id.in_(suite_ids), sa.or_(open_now, failed))
        .group_by(EvalJob.suite_id, EvalJob.status)
    )
    counts: dict[int, dict[str, int]] = {}
    for suite_id, status, count in rows:
        counts.setdefault(suite_id, {})[status] = int(count)
    return counts


def enqueue(
    connection: Connection,
    project_id: int,
    suite_id: int,
    reason: str,
    due_at: datetime,
    now: datetime,
) -> int | None:
    """A queued job; None when the suite already has one for ``due_at``."""
    statement = (
        dialect.insert(connection, EvalJob.__table__)
        .values(
            project_id=project_id,
            suite_id=suite_id,
            reason=reason,
            due_at=due_at,
            status="queued",
            attempts=0,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["suite_id", "due_at"])
        .returning(EvalJob.id)
    )
    job_id = connection.execute(statement).scalar()
    return None if job_id is None else int(job_id)


def has_queued(connection: Connection, suite_id: int) -> bool:
    """Whether a job of the suite waits already (a slot behind a slow run)."""
    return (
        connection.scalar(
            sa.select(EvalJob.id)
            .where(EvalJob.suite_id == suite_id, EvalJob.status == "queued")
            .limit(1)
        )
        is not None
    )


def job_at(connection: Connection, suite_id: int, due_at: datetime) -> int:
    return int(
        connection.execute(
            sa.select(EvalJob.id).where(EvalJob.suite_id == suite_id, EvalJob.due_at == due_at)
        ).scalar_one()
    )


_other = aliased(EvalJob)


def _claimable(now: datetime, max_attempts: int) -> sa.ColumnElement[bool]:
    """Queued with no other job of its suite running, or running on a lapsed lease."""
    suite_busy = sa.exists().where(
        _other.suite_id == EvalJob.suite_id, _other.status == "running", _other.id != EvalJob.id
    )
    return sa.or_(
        sa.and_(EvalJob.status == "queued", ~suite_busy),
        sa.and_(
            EvalJob.status == "running",
            EvalJob.lease_until < now,
            EvalJob.attempts < max_attempts,
        ),
    )


def claim(
    connection: Connection, worker: str, now: datetime, lease: timedelta, max_attempts: int
) -> ClaimedJob | None:
    """Take the oldest job that is queued (its suite running no other) or whose lease
    has run out, or None.

    A job taken back from a dead worker leaves a run that says ``running``: it is
    stored as an error here, in the same transaction, before the job runs again. Two
    PostgreSQL claimers that pick two jobs of one idle suite at the same moment meet the
    one-running-job-per-suite index: the loser's claim raises :class:`SuiteBusy`.
    """
    pick = (
        sa.select(EvalJob.id)
        .where(_claimable(now, max_attempts))
        .order_by(EvalJob.due_at, EvalJob.id)
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    update = (
        sa.update(EvalJob)
        # Read again under the row's lock: on PostgreSQL another claimer may have
        # committed between the sub-select's snapshot and this update.
        .where(EvalJob.id == pick, _claimable(now, max_attempts))
        .values(
            status="running",
            worker=worker,
            lease_until=now + lease,
            attempts=EvalJob.attempts + 1,
            started_at=now,
            error=None,
        )
        .returning(
            EvalJob.id,
            EvalJob.project_id,
            EvalJob.suite_id,
            EvalJob.reason,
            EvalJob.due_at,
            EvalJob.attempts,
            EvalJob.run_id,
        )
    )
    if connection.dialect.name == "sqlite":  # one writer: the pick and update are atomic
        row = connection.execute(update).first()
    else:
        try:
            with connection.begin_nested():  # a savepoint: the race fails only the claim
                row = connection.execute(update).first()
        except sa.exc.IntegrityError:
            raise SuiteBusy("another worker has just claimed a job of this suite") from None
    if row is None:
        return None
    if row.run_id is not None:
        _end_lost_run(connection, row.run_id)
    return ClaimedJob(row.id, row.project_id, row.suite_id, row.reason, row.due_at, row.attempts)


def _end_lost_run(connection: Connection, run_id: int) -> None:
    status = connection.scalar(sa.select(EvalRun.status).where(EvalRun.id == run_id))
    if status == "running":
        finish_run(connection, run_id, "error", None, None, LOST_LEASE)


def fail_abandoned(connection: Connection, now: datetime, max_attempts: int) -> int:
    """Jobs whose last allowed attempt lost its worker: failed, their runs errors."""
    rows = connection.execute(
        sa.update(EvalJob)
        .where(
            EvalJob.status == "running",
            EvalJob.lease_until < now,
            EvalJob.attempts >= max_attempts,
        )
        .values(status="failed", finished_at=now, error=LOST_LEASE)
        .returning(EvalJob.run_id)
    ).all()
    for (run_id,) in rows:
        if run_id is not None:
            _end_lost_run(connection, run_id)
    return len(rows)


def _held(job_id: int, worker: str) -> tuple[sa.ColumnElement[bool], ...]:
    return EvalJob.id == job_id, EvalJob.worker == worker, EvalJob.status == "running"


def renew(connection: Connection, job_id: int, worker: str, lease_until: datetime) -> bool:
    """Extend the lease; False when the job is no longer this worker's."""
    result = connection.execute(
        sa.update(EvalJob).where(*_held(job_id, worker)).values(lease_until=lease_until)
    )
    return result.rowcount == 1


def set_run(connection: Connection, job_id: int, worker: str, run_id: int) -> bool:
    result = connection.execute(
        sa.update(EvalJob).where(*_held(job_id, worker)).values(run_id=run_id)
    )
    return result.rowcount == 1


def release(connection: Connection, job_id: int, worker: str) -> bool:
    """Give the job back (the worker is stopping): queued for the next worker."""
    result = connection.execute(
        sa.update(EvalJob)
        .where(*_held(job_id, worker))
        .values(status="queued", worker=None, lease_until=None)
    )
    return result.rowcount == 1


def finish(
    connection: Connection,
    job_id: int,
    worker: str,
    status: str,
    now: datetime,
    error: str | None = None,
) -> bool:
    """Store the job's end (done or failed); False when it was no longer this worker's."""
    if status not in ("done", "failed"):
        raise ValueError(f"a finished job is done or failed, not {status!r}")
    result = connection.execute(
        sa.update(EvalJob)
        .where(*_held(job_id, worker))
        .values(status=status, finished_at=now, lease_until=None, error=error)
    )
    return result.rowcount == 1


def jobs_of_suite(connection: Connection, suite_id: int, limit: int = 50) -> list[EvalJob]:
    """The suite's newest jobs first."""
    rows = connection.execute(
        sa.select(EvalJob)
        .where(EvalJob.suite_id == suite_id)
        .order_by(EvalJob.due_at.desc(), EvalJob.id.desc())
        .limit(limit)
    )
    return [EvalJob(**row._mapping) for row in rows]


def queue_figures(connection: Connection, now: datetime) -> dict[str, Any]:
    """Queued and running jobs, and how long the oldest queued one has waited."""
    row = connection.execute(
        sa.select(
            sa.func.count().filter(EvalJob.status == "queued"),
            sa.func.count().filter(EvalJob.status == "running"),
            sa.func.min(EvalJob.due_at).filter(EvalJob.status == "queued"),
        )
    ).one()
    oldest = row[2]
    return {
        "queued": row[0],
        "running": row[1],
        "oldest_queued_s": None if oldest is None else (now - oldest).total_seconds(),
    }
