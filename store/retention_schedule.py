"""REASONLENS_RETENTION_DAYS applied on a timer, in every server and worker process.

Each process looks every ``poll_s`` whether the retention task is due; the one that
claims it (``store/periodic.py``) deletes what has expired, renewing its lease between
batches, and places the next run ``interval_s`` later. A process that stops mid-run
stops after the batch in hand; what it did stays deleted and the next run goes on from
there. Runs that deleted something are written to the audit log as ``retention``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from store import audit, periodic
from store.periodic_thread import PeriodicThread
from store.retention import Deleted, delete_before

log = logging.getLogger(__name__)

TASK = "retention"
ACTOR = "retention"  # the audit log's name for the scheduled runs
NS_PER_DAY = 86_400 * 1_000_000_000


class RetentionSchedule(PeriodicThread):
    """Deletes traces older than ``days`` every ``interval_s``, on its own thread."""

    task = TASK

    def __init__(
        self,
        engine: sa.Engine,
        *,
        days: float,
        interval_s: float,
        lease_s: float,
        poll_s: float | None = None,
    ) -> None:
        super().__init__(engine, interval_s=interval_s, lease_s=lease_s, poll_s=poll_s)
        self._days = days

    def run_due(self) -> Deleted | None:
        """Run the retention if it is due and no other process runs it; what it deleted."""
        now = datetime.now(UTC)
        with self._engine.begin() as connection:
            if not periodic.claim(connection, TASK, self.name, now, now + self._lease):
                return None
        renewed_at = time.monotonic()

        def keep_going(done: Deleted) -> bool:
            nonlocal renewed_at
            if self._stopping.is_set():
                return False
            if time.monotonic() - renewed_at < self._lease.total_seconds() / 3:
                return True
            with self._engine.begin() as connection:
                held = periodic.renew(connection, TASK, self.name, datetime.now(UTC) + self._lease)
            renewed_at = time.monotonic()
            return held

        cutoff_ns = time.time_ns() - int(self._days * NS_PER_DAY)
        try:
            done = delete_before(self._engine, cutoff_ns, keep_going=keep_going)
        except Exception as failure:
            self._finish(None, {"error": f"{type(failure).__name__}: {failure}"})
            raise
        self._finish(done, {"days": self._days, "cutoff_ns": cutoff_ns, **asdict(done)})
        if done.traces:
            log.info(
                "retention: deleted %d traces (%d spans) older than %g days in %.1f s",
                done.traces, done.spans, self._days, done.seconds,
            )  # fmt: skip
        return done

    def _finish(self, done: Deleted | None, result: dict[str, object]) -> None:
        now = datetime.now(UTC)
        # A run cut short (stopping, or an error) is due again soon, not a whole interval on.
        again = (
            self._interval
            if done is not None and done.finished
            else min(self._interval, timedelta(seconds=60))
        )
        with self._engine.begin() as connection:
            periodic.finish(connection, TASK, self.name, now, now + again, result)
            if done is not None and done.traces:
                audit.record(connection, ACTOR, "retention.delete", target=TASK, detail=result)
