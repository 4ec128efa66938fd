"""The partitions of ``spans`` made ahead of time, by whichever server or worker claims it.

On a partitioned PostgreSQL store (``store/partitions.py``) every process looks every
``poll_s`` whether the task is due; the one that claims it (``store/periodic.py``, the
lease retention's schedule uses) makes the partitions of the current interval and the
next few, so a span is never left to the default partition for want of one. On any
other store the task finds nothing to do and costs one catalog read per interval.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta

from store import periodic
from store.partitions import ensure_ahead
from store.periodic_thread import PeriodicThread

log = logging.getLogger(__name__)

TASK = "spans_partitions"


class PartitionSchedule(PeriodicThread):
    """Keeps the partitions of ``spans`` ahead of time, on its own thread."""

    task = TASK

    def run_due(self) -> list[str] | None:
        """Make the partitions due soon if the task is due here; the names made."""
        now = datetime.now(UTC)
        with self._engine.begin() as connection:
            if not periodic.claim(connection, TASK, self.name, now, now + self._lease):
                return None
        made: list[str] | None = None
        try:
            with self._engine.begin() as connection:
                made = ensure_ahead(connection, time.time_ns())
        finally:
            # A failed run (its lock was busy) is due again in a minute, or at the next
            # interval if that is sooner (as retention's).
            retry = min(self._interval, timedelta(seconds=60))
            again = self._interval if made is not None else retry
            with self._engine.begin() as connection:
                finished = datetime.now(UTC)
                result = {"made": made} if made is not None else {"error": "failed"}
                periodic.finish(connection, TASK, self.name, finished, finished + again, result)
        if made:
            log.info("partitions: made %s", ", ".join(made))
        return made
