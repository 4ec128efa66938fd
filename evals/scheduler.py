"""The scheduler: turns suites' cron slots into jobs, in every ``reasonlens serve``.

Each tick reads the enabled scheduled suites whose next run has come, and for each
enqueues one job for the latest slot that has passed (slots missed while no server ran
collapse into one run) and places the next slot after now. The move from one slot to
the next is a compare-and-set on the suite row, and a job's slot is unique per suite,
so several servers may run schedulers against one database: a slot still becomes one
job. Jobs whose last attempt's worker died are failed here too.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime

import sqlalchemy as sa

from evals import cron
from store import jobs

log = logging.getLogger(__name__)


def tick(engine: sa.Engine, now: datetime, *, max_attempts: int) -> int:
    """One look at the schedules; the number of jobs it enqueued."""
    with engine.connect() as connection:
        due = jobs.due_suites(connection, now)
    enqueued = 0
    for suite in due:
        try:
            following = cron.next_slot(suite.schedule, now)
            slot = (
                None
                if suite.next_run_at is None  # first look: the schedule starts from now
                else cron.latest_slot(suite.schedule, now, suite.next_run_at)
            )
        except (cron.CronError, ValueError, KeyError) as error:
            # Stored before schedules were checked; the suite page shows the schedule.
            log.warning("suite %d: schedule %r unusable: %s", suite.id, suite.schedule, error)
            continue
        with engine.begin() as connection:
            if not jobs.advance_schedule(connection, suite.id, suite.next_run_at, following):
                continue  # another scheduler moved it first
            if slot is not None and jobs.has_queued(connection, suite.id):
                continue  # a slot still waits behind a slow run: this one is the same run
            if slot is not None and jobs.enqueue(
                connection, suite.project_id, suite.id, "schedule", slot, now
            ):
                enqueued += 1
    with engine.begin() as connection:
        jobs.fail_abandoned(connection, now, max_attempts)
    return enqueued


class Scheduler:
    """A daemon thread that ticks every ``interval_s`` until stopped."""

    def __init__(self, engine: sa.Engine, *, interval_s: float, max_attempts: int) -> None:
        self._engine = engine
        self._interval_s = interval_s
        self._max_attempts = max_attempts
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="eval-scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(10)

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                tick(self._engine, datetime.now(UTC), max_attempts=self._max_attempts)
            except Exception:  # the database is away: try again next tick
                log.exception("scheduler tick failed")
            self._stopping.wait(self._interval_s)


def run_now(engine: sa.Engine, project_id: int, suite_id: int) -> int:
    """Queue a run of the suite for the next free worker; the job's id."""
    now = datetime.now(UTC)
    with engine.begin() as connection:
        job_id = jobs.enqueue(connection, project_id, suite_id, "manual", now, now)
        # None: asked twice in one microsecond, which is one job.
        return job_id if job_id is not None else jobs.job_at(connection, suite_id, now)
